"""The headline figures and charts of the dashboard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.store import hosts as hosts_store
from collector.store import inventory, register
from collector.store.base import utcnow
from server.charts import Chart, bar_chart, stacked_bar
from server.inventory import states as triage
from server.register import states
from server.reviews.service import review_rows

TREND_WEEKS = 12
#: Violations seen within this many days count as prohibited use still happening.
VIOLATIONS_RECENT_DAYS = 7
VIOLATION_TREND_DAYS = 28


@dataclass(frozen=True, slots=True)
class Dashboard:
    services: int
    awaiting_triage: int
    approved: int
    restricted: int
    unreviewed: int
    prohibited: int
    hosts_reporting: int
    hosts_total: int
    reviews_overdue: int
    reviews_due: int
    trend: Chart
    decisions: Chart
    #: (label, count, css class) of each decision with entries, for the chart's legend.
    decision_counts: tuple[tuple[str, int, str], ...]
    #: Items a published report calls malicious, with the hosts that show them.
    malicious: tuple[inventory.MaliciousSighting, ...] = ()
    malicious_hosts: int = 0
    #: Forbidden items seen in the last VIOLATIONS_RECENT_DAYS days, with their hosts.
    violations: tuple[inventory.ViolationSummary, ...] = ()
    violation_hosts: int = 0
    #: Violations seen per day over the last VIOLATION_TREND_DAYS days.
    violation_trend: Chart | None = None


def build_dashboard(
    session: Session, *, stale_after: dt.timedelta, due_soon_days: int = 30
) -> Dashboard:
    """Return the dashboard's figures, read in one transaction."""
    now = utcnow()
    by_state = inventory.count_items_by_state(session)
    by_status = register.count_entries_by_status(session)
    hosts_total, hosts_reporting = hosts_store.count_hosts(session, stale_after=stale_after)
    week0 = (now - dt.timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    starts = [week0 - dt.timedelta(weeks=n) for n in range(TREND_WEEKS - 1, -1, -1)]
    counts = [0] * TREND_WEEKS
    for first in inventory.items_first_seen_since(session, since=starts[0]):
        index = min((first - starts[0]).days // 7, TREND_WEEKS - 1)
        counts[index] += 1
    trend = bar_chart(
        [(start.strftime("%d %b"), count) for start, count in zip(starts, counts, strict=True)],
        title="AI services first seen per week",
        tip="Week of {label}: {value}",
    )
    unreviewed = by_status.get(states.UNDER_REVIEW, 0) + by_status.get(states.REVIEW_DUE, 0)
    decision_counts = [
        ("approved", by_status.get(states.APPROVED, 0), "approved"),
        ("restricted", by_status.get(states.RESTRICTED, 0), "restricted"),
        ("unreviewed", unreviewed, "under_review"),
        ("suspended", by_status.get(states.SUSPENDED, 0), "suspended"),
        ("prohibited", by_status.get(states.PROHIBITED, 0), "prohibited"),
    ]
    reviews = review_rows(session, today=now.date(), due_within_days=due_soon_days)
    recent = now - dt.timedelta(days=VIOLATIONS_RECENT_DAYS)
    violations = inventory.summarise_violations(session, since=recent)
    violation_trend = bar_chart(
        [
            (day.strftime("%d %b"), count)
            for day, count in inventory.list_violation_trend(
                session, days=VIOLATION_TREND_DAYS, today=now.date()
            )
        ],
        title="Violations seen per day",
        tip="{label}: {value} violations",
        label_every=7,
    )
    return Dashboard(
        services=sum(count for state, count in by_state.items() if state != triage.FALSE_POSITIVE),
        awaiting_triage=sum(by_state.get(s, 0) for s in triage.TRIAGE_OPEN),
        approved=by_status.get(states.APPROVED, 0),
        restricted=by_status.get(states.RESTRICTED, 0),
        unreviewed=unreviewed,
        prohibited=by_status.get(states.PROHIBITED, 0),
        hosts_reporting=hosts_reporting,
        hosts_total=hosts_total,
        reviews_overdue=sum(1 for row in reviews if row.overdue),
        reviews_due=sum(1 for row in reviews if row.due_soon),
        trend=trend,
        decisions=stacked_bar(decision_counts, title="Register decisions"),
        decision_counts=tuple(part for part in decision_counts if part[1]),
        malicious=tuple(inventory.list_malicious_items(session)),
        malicious_hosts=inventory.count_malicious_hosts(session),
        violations=tuple(violations),
        violation_hosts=inventory.count_violation_hosts(session, since=recent),
        violation_trend=violation_trend,
    )
