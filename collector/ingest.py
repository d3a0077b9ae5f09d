"""Turn one agent report into hosts, sightings, draft inventory items and their roll-ups.

One transaction per report, one statement per table, no ORM object loads on the hot path.
Upserts use INSERT ... ON CONFLICT on both SQLite and PostgreSQL, so concurrent reports from
many agents, through any number of server replicas, never create duplicate items, and every
roll-up is incremented only by the transaction whose row insert won:

* ``reports``      report id, inserted first: a retried report writes nothing else.
* ``hosts``        updated first among the shared rows, which serialises reports of one host.
* ``sightings``    (item, host, channel, indicator, user); new ones counted per item.
* ``item_hosts``   (item, host) with first and last day: host count and daily trend.
* ``item_facets``  distinct evidence kinds, browsers, departments and users of an item.
* ``violations``   (item, host, user) for items whose triage state is prohibited.
* ``inventory_items`` inserted if new before the sightings, and incremented last, in id order,
  so the row lock on a popular item is held only for the end of the transaction.

Report kinds: FULL and DELTA both upsert the findings they carry (a delta carries only what
changed, so nothing is inferred from a missing finding); a HEARTBEAT carries no findings and
only touches the host row, without even a report row, which is the cheap path for the
common "nothing changed" case.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, cast

import jsonschema_rs
from sqlalchemy import Boolean, Table, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector.dedup import ItemIdentity, item_identity, merge_findings, sighting_key
from collector.errors import ReportRejected
from collector.models import (
    DAILY_SHARDS,
    PROHIBITED,
    Agent,
    Host,
    InventoryItem,
    ItemDaily,
    ItemFacet,
    ItemHost,
    Report,
    Sighting,
    Violation,
    utcnow,
)
from collector.store import dialect_insert, inventory_table
from signatures import (
    JSON_NUL,
    MAX_REPORT_BYTES,
    Catalogue,
    Finding,
    ReportKind,
    WireFormatError,
    report_schema,
    validate_report,
    without_nul,
)
from signatures import Report as WireReport

_FACET_LENGTH = 256
# An agent clock this far ahead is tolerated as is; beyond it, times are clamped to the
# collector's clock, so a skewed agent cannot push "last seen" into the future. An agent
# clock behind cannot be told from a report delayed in the offline spool, so past times
# are kept; staleness uses the collector's own received_at either way.
CLOCK_AHEAD_TOLERANCE = dt.timedelta(minutes=5)


def clamp_future_times(findings: list[Finding], *, now: dt.datetime) -> list[Finding]:
    """Return the findings with any time later than ``now`` (plus tolerance) set to ``now``."""
    limit = now + CLOCK_AHEAD_TOLERANCE
    clamped = []
    for finding in findings:
        if finding.first_seen > limit or finding.last_seen > limit:
            finding = replace(
                finding,
                first_seen=min(finding.first_seen, now),
                last_seen=min(finding.last_seen, now),
            )
        clamped.append(finding)
    return clamped


# "Last seen" of a sighting or an item is refreshed at most this often by a repeated finding,
# so an agent re-reporting unchanged state every few minutes costs a read, not a write.
# Evidence details (counts, pids) of such a repeat are not rewritten either.
LAST_SEEN_REFRESH = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class IngestResult:
    report_id: str
    duplicate: bool
    findings: int
    items: int
    new_sightings: int = 0
    violations: int = 0


@cache
def _fast_validator() -> Any:
    # The Rust validator checks a typical report in about a millisecond, against some 70 ms
    # for the pure-Python one, which is kept only to name the offending path in a refusal.
    return jsonschema_rs.validator_for(report_schema())


def parse_agent_report(body: bytes) -> WireReport:
    """Decode and validate a report body; raises ReportRejected naming the offending field."""
    if len(body) > MAX_REPORT_BYTES:
        raise ReportRejected(f"report exceeds {MAX_REPORT_BYTES} bytes", too_large=True)
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportRejected(f"not valid JSON: {exc}") from exc
    if JSON_NUL in body:
        doc = without_nul(doc)
    try:
        if not _fast_validator().is_valid(doc):
            validate_report(doc)  # raises WireFormatError with the path
            raise ReportRejected("report does not match the report schema")
        return WireReport.from_dict(doc)
    except WireFormatError as exc:
        raise ReportRejected(exc.reason, path=exc.path) from exc


def ingest_report(
    session: Session, *, agent: Agent, report: WireReport, catalogue: Catalogue
) -> IngestResult:
    """Store a validated report for an authenticated agent; idempotent by report id.

    The caller commits once; a duplicate report writes nothing. Raises ReportRejected for a
    heartbeat that carries findings.
    """
    now = utcnow()
    if report.kind is ReportKind.HEARTBEAT:
        if report.findings:
            raise ReportRejected("a heartbeat report carries no findings", path="findings")
        _touch_host(session, agent=agent, report=report, now=now)
        return IngestResult(report.report_id, duplicate=False, findings=0, items=0)

    # Commits stay synchronous: an acknowledged report must survive a database crash, because
    # the agent drops it from its spool once the collector says "stored".
    inserted = session.execute(
        dialect_insert(session, Report)
        .values(
            report_uid=report.report_id,
            agent_id=agent.id,
            host_id=agent.host_id,
            kind=report.kind.value,
            generated_at=report.generated_at,
            received_at=now,
            finding_count=len(report.findings),
        )
        .on_conflict_do_nothing(index_elements=["report_uid"])
        .returning(Report.id)
    ).scalar()
    if inserted is None:
        return IngestResult(report.report_id, duplicate=True, findings=0, items=0)

    department = _touch_host(session, agent=agent, report=report, now=now)
    findings = merge_findings(clamp_future_times(list(report.findings), now=now))
    if not findings:
        return IngestResult(report.report_id, duplicate=False, findings=0, items=0)

    identities = [item_identity(finding, catalogue) for finding in findings]
    windows = _seen_windows(findings, identities)
    items = _ensure_items(session, identities, windows)
    rollup = _Rollup()
    host_id = agent.host_id
    _upsert_sightings(session, host_id, findings, identities, items, rollup)
    _upsert_item_hosts(session, host_id, items, now.date(), rollup)
    _insert_facets(session, findings, identities, items, department, rollup)
    _record_violations(session, host_id, findings, identities, items, now, rollup)
    # The shared hot rows (today's trend counters, item roll-ups) are written last, so their
    # row locks are held only until the commit that follows.
    _count_daily_hosts(session, host_id, now.date(), rollup)
    _update_items(session, windows, items, now, rollup)
    return IngestResult(
        report.report_id,
        duplicate=False,
        findings=len(findings),
        items=len(items),
        new_sightings=sum(rollup.sightings.values()),
        violations=sum(rollup.violations.values()),
    )


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    state: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


@dataclass(slots=True)
class _Rollup:
    """Per-item increments this report earned."""

    sightings: Counter[int] = field(default_factory=Counter)
    hosts: Counter[int] = field(default_factory=Counter)
    users: Counter[int] = field(default_factory=Counter)
    violations: Counter[int] = field(default_factory=Counter)
    violated: set[int] = field(default_factory=set)
    daily: Counter[int] = field(default_factory=Counter)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert_for(dialect: str, model: type[Any]) -> Any:
    """A Core INSERT with ON CONFLICT on a model's table (no ORM bulk machinery), built once."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_table(model))


def _run(session: Session, statement: Any, rows: list[dict[str, Any]]) -> Any:
    """Execute one statement for many rows (executemany / insertmanyvalues, compiled once)."""
    return session.connection().execute(statement, rows)


def _touch_host(session: Session, *, agent: Agent, report: WireReport, now: dt.datetime) -> str:
    """Record what the host says about itself; return its department.

    On PostgreSQL the UPDATE also locks the host row until commit, so two reports of the same
    host are applied one after the other.
    """
    hosts = _table(Host)
    department = (
        session.connection()
        .execute(
            update(hosts)
            .where(hosts.c.id == agent.host_id)
            .values(
                hostname=report.host.hostname,
                os=report.host.os,
                os_version=report.host.os_version,
                arch=report.host.arch,
                agent_version=report.agent.version,
                catalogue_version=report.agent.catalogue_version,
                last_report_at=now,
                health=dict(report.health),
                scanner_errors=[error.to_dict() for error in report.scanner_errors],
            )
            .returning(hosts.c.department)
        )
        .scalar_one()
    )
    agents = _table(Agent)
    session.connection().execute(
        update(agents).where(agents.c.id == agent.id).values(last_seen_at=now)
    )
    return str(department)


def _seen_windows(
    findings: list[Finding], identities: list[ItemIdentity]
) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Return, per item key, the earliest first-seen and latest last-seen of this report."""
    windows: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for finding, identity in zip(findings, identities, strict=True):
        first, last = windows.get(identity.key, (finding.first_seen, finding.last_seen))
        windows[identity.key] = (min(first, finding.first_seen), max(last, finding.last_seen))
    return windows


def _select_items(session: Session, keys: list[str]) -> dict[str, _Item]:
    items = _table(InventoryItem).c
    found = session.connection().execute(
        select(items.id, items.key, items.state, items.first_seen_at, items.last_seen_at).where(
            items.key.in_(keys)
        )
    )
    return {key: _Item(item_id, state, first, last) for item_id, key, state, first, last in found}


def _ensure_items(
    session: Session,
    identities: list[ItemIdentity],
    windows: dict[str, tuple[dt.datetime, dt.datetime]],
) -> dict[str, _Item]:
    """Insert the items this report names that do not exist yet; return all of them by key."""
    by_key = {identity.key: identity for identity in identities}
    items = _select_items(session, list(by_key))
    missing = sorted(set(by_key) - set(items))
    if not missing:
        return items  # the steady state: every item exists
    now = utcnow()
    rows = [
        {
            "key": identity.key,
            "service_id": identity.service_id,
            "name": identity.name,
            "vendor": identity.vendor,
            "category": identity.category,
            "state": "new",
            # Widened by _update_items when another report created the item first.
            "first_seen_at": windows[identity.key][0],
            "last_seen_at": windows[identity.key][1],
            "created_at": now,
            "updated_at": now,
            "host_count": 0,
            "user_count": 0,
            "sighting_count": 0,
            "violation_count": 0,
        }
        for identity in (by_key[key] for key in missing)
    ]
    # DO NOTHING takes no lock on an existing item: popular items are not serialised here.
    _run(session, _item_insert(_dialect(session)), rows)
    items.update(_select_items(session, missing))
    return items


@cache
def _item_insert(dialect: str) -> Any:
    return _insert_for(dialect, InventoryItem).on_conflict_do_nothing(index_elements=["key"])


def _upsert_sightings(
    session: Session,
    host_id: int,
    findings: list[Finding],
    identities: list[ItemIdentity],
    items: dict[str, _Item],
    rollup: _Rollup,
) -> None:
    # The host row is locked (or, on SQLite, the database), so this read cannot go stale.
    sightings = _table(Sighting).c
    known = {
        (item_id, kind, indicator, user): (first, last)
        for item_id, kind, indicator, user, first, last in session.connection().execute(
            select(
                sightings.item_id,
                sightings.kind,
                sightings.indicator,
                sightings.user_name,
                sightings.first_seen_at,
                sightings.last_seen_at,
            ).where(sightings.host_id == host_id)
        )
    }
    rows = []
    for finding, identity in zip(findings, identities, strict=True):
        kind, indicator, user = sighting_key(finding)
        item_id = items[identity.key].id
        stored = known.get((item_id, kind, indicator, user))
        if stored is None:
            rollup.sightings[item_id] += 1
        elif _within(stored, finding.first_seen, finding.last_seen):
            continue  # the cheap path: seen again within the refresh interval, nothing to write
        rows.append(
            {
                "item_id": item_id,
                "host_id": host_id,
                "kind": kind,
                "indicator": indicator,
                "indicator_kind": finding.indicator_kind,
                "user_name": user,
                "confidence": finding.confidence.value,
                "heuristic": finding.heuristic,
                "evidence": dict(finding.evidence),
                "first_seen_at": finding.first_seen,
                "last_seen_at": finding.last_seen,
            }
        )
    if rows:
        rows.sort(key=lambda row: (row["item_id"], row["kind"], row["indicator"], row["user_name"]))
        _run(session, _sighting_upsert(_dialect(session)), rows)


def _within(
    stored: tuple[dt.datetime, dt.datetime], first_seen: dt.datetime, last_seen: dt.datetime
) -> bool:
    """Whether a stored seen window already covers a new one, to within the refresh interval."""
    return stored[0] <= first_seen and last_seen - stored[1] < LAST_SEEN_REFRESH


@cache
def _sighting_upsert(dialect: str) -> Any:
    sightings = _table(Sighting).c
    statement = _insert_for(dialect, Sighting)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["item_id", "host_id", "kind", "indicator", "user_name"],
        set_={
            "confidence": excluded.confidence,
            "heuristic": excluded.heuristic,
            "evidence": excluded.evidence,
            "first_seen_at": case(
                (excluded.first_seen_at < sightings.first_seen_at, excluded.first_seen_at),
                else_=sightings.first_seen_at,
            ),
            "last_seen_at": case(
                (excluded.last_seen_at > sightings.last_seen_at, excluded.last_seen_at),
                else_=sightings.last_seen_at,
            ),
        },
    )
    return statement


def _upsert_item_hosts(
    session: Session, host_id: int, items: dict[str, _Item], today: dt.date, rollup: _Rollup
) -> None:
    """Count a host once per item, and once per item per day for the trend."""
    statement = _item_host_upserts(_dialect(session))[0]
    rows = [
        {"item_id": item.id, "host_id": host_id, "first_day": today, "last_day": today}
        for item in sorted(items.values(), key=lambda item: item.id)
    ]
    # Only inserted rows and rows moved to a new day come back; an inserted one has
    # first_day == today, an updated one an earlier first_day.
    for item_id, first_day in _run(session, statement, rows):
        rollup.daily[item_id] += 1
        if first_day == today:
            rollup.hosts[item_id] += 1


def _count_daily_hosts(session: Session, host_id: int, today: dt.date, rollup: _Rollup) -> None:
    """Add this host to today's trend rows (one of DAILY_SHARDS rows per item, by host)."""
    if rollup.daily:
        _run(
            session,
            _item_host_upserts(_dialect(session))[1],
            [
                {"item_id": item_id, "day": today, "shard": host_id % DAILY_SHARDS,
                 "host_count": count}
                for item_id, count in sorted(rollup.daily.items())
            ],
        )  # fmt: skip


@cache
def _item_host_upserts(dialect: str) -> tuple[Any, Any]:
    item_hosts = _table(ItemHost).c
    statement = _insert_for(dialect, ItemHost)
    statement = statement.on_conflict_do_update(
        index_elements=["item_id", "host_id"],
        set_={"last_day": statement.excluded.last_day},
        where=item_hosts.last_day < statement.excluded.last_day,
    ).returning(item_hosts.item_id, item_hosts.first_day)
    daily = _insert_for(dialect, ItemDaily)
    daily = daily.on_conflict_do_update(
        index_elements=["item_id", "day", "shard"],
        set_={"host_count": _table(ItemDaily).c.host_count + daily.excluded.host_count},
    )
    return statement, daily


def _insert_facets(
    session: Session,
    findings: list[Finding],
    identities: list[ItemIdentity],
    items: dict[str, _Item],
    department: str,
    rollup: _Rollup,
) -> None:
    facets: set[tuple[int, str, str]] = set()
    for finding, identity in zip(findings, identities, strict=True):
        item_id = items[identity.key].id
        facets.add((item_id, "kind", finding.kind.value))
        browser = finding.evidence.get("browser")
        if isinstance(browser, str) and browser:
            facets.add((item_id, "browser", browser[:_FACET_LENGTH]))
        if finding.user:
            facets.add((item_id, "user", finding.user[:_FACET_LENGTH]))
        if department:
            facets.add((item_id, "department", department[:_FACET_LENGTH]))
    statement = _facet_insert(_dialect(session))
    rows = [
        {"item_id": item_id, "facet": facet, "value": value}
        for item_id, facet, value in sorted(facets)
    ]
    for item_id, facet in _run(session, statement, rows):
        if facet == "user":
            rollup.users[item_id] += 1


@cache
def _facet_insert(dialect: str) -> Any:
    columns = _table(ItemFacet).c
    return (
        _insert_for(dialect, ItemFacet)
        .on_conflict_do_nothing(index_elements=["item_id", "facet", "value"])
        .returning(columns.item_id, columns.facet)
    )


def _record_violations(
    session: Session,
    host_id: int,
    findings: list[Finding],
    identities: list[ItemIdentity],
    items: dict[str, _Item],
    now: dt.datetime,
    rollup: _Rollup,
) -> None:
    seen: dict[tuple[int, str], dt.datetime] = {}
    for finding, identity in zip(findings, identities, strict=True):
        item = items[identity.key]
        if item.state == PROHIBITED:
            key = (item.id, (finding.user or "")[:256])
            seen[key] = max(seen.get(key, finding.last_seen), finding.last_seen)
    if not seen:
        return
    rows = [
        {
            "item_id": item_id,
            "host_id": host_id,
            "user_name": user,
            "first_seen_at": now,
            "last_seen_at": last_seen,
        }
        for (item_id, user), last_seen in sorted(seen.items())
    ]
    for item_id, first_seen in _run(session, _violation_upsert(_dialect(session)), rows):
        rollup.violated.add(item_id)
        if first_seen == now:  # a new (item, host, user): counted; a repeat only dates it
            rollup.violations[item_id] += 1


@cache
def _violation_upsert(dialect: str) -> Any:
    columns = _table(Violation).c
    statement = _insert_for(dialect, Violation)
    return statement.on_conflict_do_update(
        index_elements=["item_id", "host_id", "user_name"],
        set_={
            "last_seen_at": case(
                (
                    statement.excluded.last_seen_at > columns.last_seen_at,
                    statement.excluded.last_seen_at,
                ),
                else_=columns.last_seen_at,
            )
        },
    ).returning(columns.item_id, columns.first_seen_at)


def _update_items(
    session: Session,
    windows: dict[str, tuple[dt.datetime, dt.datetime]],
    items: dict[str, _Item],
    now: dt.datetime,
    rollup: _Rollup,
) -> None:
    """Widen each item's seen window and add this report's increments, in id order."""
    parameters: list[dict[str, Any]] = [
        {
            "b_id": items[key].id,
            "b_first": windows[key][0],
            "b_last": windows[key][1],
            "b_hosts": rollup.hosts[items[key].id],
            "b_users": rollup.users[items[key].id],
            "b_sightings": rollup.sightings[items[key].id],
            "b_violations": rollup.violations[items[key].id],
            "b_violated": items[key].id in rollup.violated,
            "b_now": now,
        }
        for key in sorted(items, key=lambda key: items[key].id)
        if _changes(items[key], windows[key], rollup)
    ]
    if parameters:
        session.connection().execute(_item_update(), parameters)


def _changes(item: _Item, window: tuple[dt.datetime, dt.datetime], rollup: _Rollup) -> bool:
    counted = (rollup.hosts, rollup.users, rollup.sightings, rollup.violations)
    if any(counter[item.id] for counter in counted) or item.id in rollup.violated:
        return True
    return not _within((item.first_seen_at, item.last_seen_at), *window)


@cache
def _item_update() -> Any:
    columns = inventory_table().c
    first = bindparam("b_first", type_=columns.first_seen_at.type)
    last = bindparam("b_last", type_=columns.last_seen_at.type)
    stamp = bindparam("b_now", type_=columns.updated_at.type)
    statement = (
        update(inventory_table())
        .where(columns.id == bindparam("b_id"))
        .values(
            first_seen_at=case((first < columns.first_seen_at, first), else_=columns.first_seen_at),
            last_seen_at=case((last > columns.last_seen_at, last), else_=columns.last_seen_at),
            host_count=columns.host_count + bindparam("b_hosts"),
            user_count=columns.user_count + bindparam("b_users"),
            sighting_count=columns.sighting_count + bindparam("b_sightings"),
            violation_count=columns.violation_count + bindparam("b_violations"),
            last_violation_at=case(
                (bindparam("b_violated", type_=Boolean()), stamp), else_=columns.last_violation_at
            ),
            updated_at=stamp,
        )
    )
    return statement
