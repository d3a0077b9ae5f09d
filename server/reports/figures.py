"""Gather one discovery report's figures from the database (no rendering here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from collector.store import hosts as hosts_store
from collector.store import incidents, inventory, reports
from collector.store.hosts import Host
from collector.store.reports import ItemUse
from server.incidents.service import SEVERITIES
from server.scope.service import scope_coverage

UNREVIEWED_STATE = "new"
# Items that are not AI use to report: false positives, items set outside the AI management
# system's scope, and duplicates merged into another item (counted there).
NOT_COUNTED = frozenset({"false_positive", "out_of_scope", "merged"})
AGE_BUCKETS = ((7, "under 7 days"), (30, "7 to 30 days"), (None, "over 30 days"))


@dataclass(frozen=True, slots=True)
class AdoptionPoint:
    week_ending: dt.date
    services: int
    hosts: int
    users: int


@dataclass(frozen=True, slots=True)
class DiscoveryFigures:
    """Everything a discovery report shows, for the window [start, end)."""

    title: str
    start: dt.datetime
    end: dt.datetime
    generated_at: dt.datetime
    services_total: int
    states: dict[str, int]
    hosts_total: int
    hosts_stale: int
    new_services: list[ItemUse]
    adoption: list[AdoptionPoint]
    unreviewed: list[ItemUse]
    unreviewed_ages: list[tuple[str, int]]
    #: Items the register prohibits (or restricts elsewhere) with a violation this period.
    prohibited_in_use: list[ItemUse]
    stale_hosts: list[Host]
    #: (week ending, violations seen that week) over the adoption weeks: still happening?
    violation_trend: list[tuple[dt.date, int]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, int]:
        """The figures a board reads first (also stored with the run)."""
        return {
            "services_total": self.services_total,
            "new_services": len(self.new_services),
            "unreviewed": len(self.unreviewed),
            "prohibited_in_use": len(self.prohibited_in_use),
            "violations": self.violation_trend[-1][1] if self.violation_trend else 0,
            "hosts_total": self.hosts_total,
            "hosts_not_reporting": self.hosts_stale,
            "hosts_using_ai": self.adoption[-1].hosts if self.adoption else 0,
        }


def _age_buckets(items: list[ItemUse], now: dt.datetime) -> list[tuple[str, int]]:
    counts = dict.fromkeys((label for _limit, label in AGE_BUCKETS), 0)
    for use in items:
        age = (now - use.item.first_seen_at).days
        for limit, label in AGE_BUCKETS:
            if limit is None or age < limit:
                counts[label] += 1
                break
    return list(counts.items())


def _summary(figures: DiscoveryFigures) -> list[str]:
    head = figures.headline()
    lines = [
        f"Shadowmap knows {head['services_total']} AI services in use across "
        f"{head['hosts_using_ai']} of {head['hosts_total']} monitored hosts.",
        f"{head['new_services']} new AI "
        f"{'service was' if head['new_services'] == 1 else 'services were'} "
        "discovered this period.",
    ]
    if head["unreviewed"]:
        oldest = (figures.end - figures.unreviewed[0].item.first_seen_at).days
        count = head["unreviewed"]
        lines.append(
            f"{count} {'service awaits' if count == 1 else 'services await'} review; "
            f"the oldest has waited {oldest} days."
        )
    else:
        lines.append("No service is waiting for review.")
    if head["prohibited_in_use"]:
        names = ", ".join(use.item.name for use in figures.prohibited_in_use[:3])
        count = head["prohibited_in_use"]
        verb = "service is" if count == 1 else "services are"
        lines.append(f"{count} prohibited {verb} still in use ({names}).")
        if len(figures.violation_trend) >= 2:
            before, now = figures.violation_trend[-2][1], figures.violation_trend[-1][1]
            change = "up from" if now > before else "down from" if now < before else "as in"
            lines.append(
                f"{now} {'violation was' if now == 1 else 'violations were'} seen this "
                f"period, {change} {before} the period before."
            )
    else:
        lines.append("No prohibited service was seen this period.")
    if head["hosts_not_reporting"]:
        count = head["hosts_not_reporting"]
        verb = "host is" if count == 1 else "hosts are"
        lines.append(f"{count} {verb} not reporting, so their AI use is unknown.")
    return lines


def gather(
    session: Session,
    *,
    title: str,
    start: dt.datetime,
    end: dt.datetime,
    stale_after: dt.timedelta,
    weeks: int = 8,
) -> DiscoveryFigures:
    """Return the discovery figures for [start, end); the caller owns the transaction."""
    hosts = hosts_store.list_hosts(session, stale_after=stale_after)
    states = inventory.count_items_by_state(session)
    adoption = []
    for back in range(weeks - 1, -1, -1):
        at = end - dt.timedelta(weeks=back)
        services, host_count, users = reports.adoption_counts(session, at=at)
        adoption.append(
            AdoptionPoint(
                week_ending=(at - dt.timedelta(seconds=1)).date(),
                services=services,
                hosts=host_count,
                users=users,
            )
        )
    unreviewed = reports.list_items_in_state(session, state=UNREVIEWED_STATE)
    figures = DiscoveryFigures(
        title=title,
        start=start,
        end=end,
        generated_at=dt.datetime.now(dt.UTC),
        services_total=sum(n for state, n in states.items() if state not in NOT_COUNTED),
        states=states,
        hosts_total=len(hosts),
        hosts_stale=sum(1 for row in hosts if row.stale),
        new_services=[
            use
            for use in reports.list_items_first_seen_between(session, start=start, end=end)
            if use.item.state not in NOT_COUNTED
        ],
        adoption=adoption,
        unreviewed=unreviewed,
        unreviewed_ages=_age_buckets(unreviewed, end),
        prohibited_in_use=reports.list_items_in_violation(session, start=start, end=end),
        stale_hosts=[row.host for row in hosts if row.stale],
        violation_trend=[
            (
                point.week_ending,
                reports.count_violations_between(
                    session,
                    start=point.week_ending - dt.timedelta(days=6),
                    end=point.week_ending + dt.timedelta(days=1),
                ),
            )
            for point in adoption
        ],
    )
    # Every board summary says what it covers, and the AI incidents (ISO/IEC 42001 4.3, 10.2).
    figures.summary.append(scope_coverage(session).sentence())
    figures.summary.extend(_summary(figures))
    figures.summary.append(_incident_line(session, start=start, end=end))
    return figures


def _incident_line(session: Session, *, start: dt.datetime, end: dt.datetime) -> str:
    open_now = incidents.list_incidents(session, status=incidents.OPEN)
    recorded = [i for i in incidents.list_incidents(session) if start <= i.created_at < end]
    if not open_now and not recorded:
        return "No AI incident is open and none was recorded this period."
    worst = max((i.severity for i in open_now), key=SEVERITIES.index, default="")
    opened = f"{len(open_now)} AI incident{'' if len(open_now) == 1 else 's'} open"
    return (
        f"{opened}{f' (highest severity: {worst})' if worst else ''}; "
        f"{len(recorded)} recorded this period."
    )
