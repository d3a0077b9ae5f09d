"""Turn one agent report into hosts, sightings, draft inventory items and their roll-ups.

One transaction per report, one statement per table, no ORM object loads on the hot path.
Upserts use INSERT ... ON CONFLICT on both SQLite and PostgreSQL, so concurrent reports from
many agents, through any number of server replicas, never create duplicate items, and every
roll-up is incremented only by the transaction whose row insert won:

* ``reports``      report id, inserted first: a retried report writes nothing else.
* ``hosts``        updated first among the shared rows, which serialises reports of one host.
* ``sightings``    (item, host, channel, indicator, user); new ones counted per item.
* ``item_hosts``   (item, host) with first and last day: host count and daily trend; the
  host's own ``item_count`` grows by the rows inserted (ingest is item_hosts' only writer).
* ``item_facets``  distinct evidence kinds, browsers, departments and users of an item.
* ``violations``   (item, host, user, channel) for items the register prohibits, or restricts
  to departments other than the host's; ``violation_days`` the days each was seen (the trend).
* ``inventory_items`` inserted if new before the sightings, and incremented last, in id order,
  so the row lock on a popular item is held only for the end of the transaction.
* ``ingest_quotas`` the agent's count of new items this clock hour, and its last limit hit.

Limits (:class:`IngestLimits`): a report creates at most so many new items, and an agent at
most so many per clock hour (UTC); catalogue services are admitted before unknown candidates.
The findings of items not admitted are deferred: not stored, counted in the result's
``limited`` and recorded on the agent's quota row. Findings of items that exist are never
limited. The agent's next full report carries the deferred findings again.

Report kinds: FULL and DELTA both upsert the findings they carry (a delta carries only what
changed, so nothing is inferred from a missing finding); a HEARTBEAT carries no findings and
only touches the host row, without even a report row, which is the cheap path for the
common "nothing changed" case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import jsonschema_rs
from sqlalchemy.orm import Session

from collector.dedup import ItemIdentity, item_identity, merge_findings
from collector.errors import NotFound, ReportRejected
from collector.governance import RESTRICTED, violation_reason
from collector.ingest_sql import BulkInsert, IngestCursor
from collector.store.agents import Agent
from collector.store.base import utcnow
from collector.store.inventory import DAILY_SHARDS, PROFILE_ACCOUNTS
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
class IngestLimits:
    """Bounds on the new inventory items a report may create (None: no bound)."""

    new_items_per_report: int | None = None
    new_items_per_agent_hour: int | None = None


@dataclass(frozen=True, slots=True)
class LimitHit:
    """A limit a report reached: which, its value, and what was deferred because of it."""

    limit: str  # "new_items_per_report" | "new_items_per_agent_hour"
    maximum: int
    deferred_items: int
    deferred_findings: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "maximum": self.maximum,
            "deferred_items": self.deferred_items,
            "deferred_findings": self.deferred_findings,
        }


@dataclass(frozen=True, slots=True)
class IngestResult:
    report_id: str
    duplicate: bool
    findings: int
    items: int
    new_sightings: int = 0
    violations: int = 0
    limited: tuple[LimitHit, ...] = ()
    # The host name the report asked for and did not get (another host holds it).
    refused_hostname: str | None = None


@cache
def _fast_validator() -> Any:
    # The Rust validator checks a typical report in about a millisecond, against some 70 ms
    # for the pure-Python one, which is kept only to name the offending path in a refusal.
    return jsonschema_rs.validator_for(report_schema())


# A JSON escape of a UTF-16 surrogate (\\ud800-\\udfff): only then can a decoded string hold
# a lone surrogate, which no database can store as text.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_UTF8_BOM = b"\xef\xbb\xbf"


def _lone_surrogate_path(value: Any, path: str = "") -> str | None:
    """Return the path of the first string (or key) holding a lone surrogate, else None.

    Iterative, so a deep document cannot exhaust the stack."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        current, where = pending.pop()
        if isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                return where or "(document)"
        elif isinstance(current, list):
            pending.extend((item, f"{where}[{index}]") for index, item in enumerate(current))
        elif isinstance(current, dict):
            for key, item in current.items():
                name = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
                here = f"{where}.{name}" if where else name
                pending.append((key, here))
                pending.append((item, here))
    return None


def parse_agent_report(body: bytes) -> WireReport:
    """Decode and validate a report body; raises ReportRejected naming the offending field.

    The body is UTF-8 JSON without a byte-order mark (no UTF-16 or UTF-32, which json.loads
    would otherwise guess); strings hold no lone surrogates; nesting, numbers and times stay
    within what Python and the database can hold.
    """
    if len(body) > MAX_REPORT_BYTES:
        raise ReportRejected(f"report exceeds {MAX_REPORT_BYTES} bytes", too_large=True)
    if body.startswith(_UTF8_BOM):
        raise ReportRejected("not valid JSON: a report is UTF-8 without a byte-order mark")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportRejected(
            f"not valid JSON: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:  # not JSON, or an integer past Python's digit limit
        raise ReportRejected(f"not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ReportRejected("not valid JSON: nested too deeply") from exc
    if _SURROGATE_ESCAPE.search(body):
        where = _lone_surrogate_path(doc)
        if where is not None:
            raise ReportRejected("a lone UTF-16 surrogate is not text", path=where)
    if JSON_NUL in body:
        doc = without_nul(doc)
    try:
        if not _fast_validator().is_valid(doc):
            validate_report(doc)  # raises WireFormatError with the path
            raise ReportRejected("report does not match the report schema")
        return WireReport.from_dict(doc)
    except WireFormatError as exc:
        raise ReportRejected(exc.reason, path=exc.path) from exc
    except RecursionError as exc:
        raise ReportRejected("report nested too deeply") from exc


def ingest_report(
    session: Session,
    *,
    agent: Agent,
    report: WireReport,
    catalogue: Catalogue,
    limits: IngestLimits | None = None,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Store a validated report for an authenticated agent; idempotent by report id.

    The caller commits once; a duplicate report writes nothing. ``limits`` bound the new
    items it may create (see the module docstring); ``now`` is the collector's clock.
    Raises ReportRejected for a heartbeat that carries findings, NotFound if the agent's
    host was deleted meanwhile.
    """
    now = now or utcnow()
    if report.kind is ReportKind.HEARTBEAT and report.findings:
        raise ReportRejected("a heartbeat report carries no findings", path="findings")
    session.flush()  # pending ORM changes first: the statements below read what they wrote
    cursor = IngestCursor(session)
    try:
        return _ingest_with(cursor, agent, report, catalogue, limits, now)
    except cursor.unstorable as exc:
        # parse_agent_report refuses what is known not to fit; this is the net under it.
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ReportRejected(f"a value cannot be stored: {reason}") from exc
    finally:
        cursor.close()


def _ingest_with(
    cursor: IngestCursor,
    agent: Agent,
    report: WireReport,
    catalogue: Catalogue,
    limits: IngestLimits | None,
    now: dt.datetime,
) -> IngestResult:
    if report.kind is ReportKind.HEARTBEAT:
        _department, refused = _touch_host(cursor, agent=agent, report=report, now=now)
        return IngestResult(
            report.report_id, duplicate=False, findings=0, items=0, refused_hostname=refused
        )
    return _ingest(
        cursor,
        agent=agent,
        report=report,
        catalogue=catalogue,
        limits=limits or IngestLimits(),
        now=now,
    )


_REPORT_INSERT = (
    "INSERT INTO reports (report_uid, agent_id, host_id, kind, generated_at, received_at, "
    "finding_count) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (agent_id, report_uid) DO NOTHING RETURNING id"
)


def _ingest(
    cursor: IngestCursor,
    *,
    agent: Agent,
    report: WireReport,
    catalogue: Catalogue,
    limits: IngestLimits,
    now: dt.datetime,
) -> IngestResult:
    # Commits stay synchronous: an acknowledged report must survive a database crash, because
    # the agent drops it from its spool once the collector says "stored".
    inserted = cursor.fetch(
        _REPORT_INSERT,
        (
            report.report_id,
            agent.id,
            agent.host_id,
            report.kind.value,
            cursor.time(report.generated_at),
            cursor.time(now),
            len(report.findings),
        ),
    )
    if not inserted:
        return IngestResult(report.report_id, duplicate=True, findings=0, items=0)

    department, refused = _touch_host(cursor, agent=agent, report=report, now=now)
    findings = merge_findings(clamp_future_times(list(report.findings), now=now))
    if not findings:
        return IngestResult(
            report.report_id, duplicate=False, findings=0, items=0, refused_hostname=refused
        )

    identities = [item_identity(finding, catalogue) for finding in findings]
    windows = _seen_windows(findings, identities)
    items, deferred = _ensure_items(cursor, identities, windows, now, agent.id, limits)
    limited: tuple[LimitHit, ...] = ()
    if deferred is not None:
        kept = [pair for pair in zip(findings, identities, strict=True) if pair[1].key in items]
        limited = (replace(deferred, deferred_findings=len(findings) - len(kept)),)
        _record_limit_hit(cursor, agent.id, report.report_id, limited, now)
        findings = [finding for finding, _identity in kept]
        identities = [identity for _finding, identity in kept]
        windows = {key: window for key, window in windows.items() if key in items}
        if not findings:
            return IngestResult(
                report.report_id,
                duplicate=False,
                findings=0,
                items=0,
                limited=limited,
                refused_hostname=refused,
            )
    rollup = _Rollup()
    host_id = agent.host_id
    new = _upsert_sightings(cursor, host_id, findings, identities, items, rollup)
    _upsert_item_hosts(cursor, host_id, items, now.date(), rollup)
    _insert_facets(cursor, findings, identities, new, items, department, rollup)
    _record_violations(cursor, host_id, department, findings, identities, items, now, rollup)
    # The shared hot rows (today's trend counters, item roll-ups) are written last, so their
    # row locks are held only until the commit that follows.
    _count_daily_hosts(cursor, host_id, now.date(), rollup)
    _update_items(cursor, windows, items, now, rollup)
    return IngestResult(
        report.report_id,
        duplicate=False,
        findings=len(findings),
        items=len(items),
        new_sightings=sum(rollup.sightings.values()),
        violations=sum(rollup.violations.values()),
        limited=limited,
        refused_hostname=refused,
    )


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    governed_status: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    severity: str
    allowed_departments: str = ""  # a JSON list, for a restricted item (collector.governance)


@dataclass(slots=True)
class _Rollup:
    """Per-item increments this report earned."""

    sightings: Counter[int] = field(default_factory=Counter)
    hosts: Counter[int] = field(default_factory=Counter)
    users: Counter[int] = field(default_factory=Counter)
    violations: Counter[int] = field(default_factory=Counter)
    violated: set[int] = field(default_factory=set)
    daily: Counter[int] = field(default_factory=Counter)


# A host takes the name its agent reports, unless another host already has that name: an
# agent must not make its host pass for another one (the name is kept, the refusal logged).
_HOST_UPDATE = (
    "UPDATE hosts SET hostname = CASE WHEN hostname = ? THEN hostname "
    "WHEN EXISTS (SELECT 1 FROM hosts AS other WHERE lower(other.hostname) = lower(?) "
    "AND other.id <> hosts.id) THEN hostname ELSE ? END, "
    "os = ?, os_version = ?, arch = ?, agent_version = ?, "
    "catalogue_version = ?, last_report_at = ?, health = ?, scanner_errors = ? "
    "WHERE id = ? RETURNING department, hostname"
)
_AGENT_UPDATE = "UPDATE agents SET last_seen_at = ? WHERE id = ?"


def _touch_host(
    cursor: IngestCursor, *, agent: Agent, report: WireReport, now: dt.datetime
) -> tuple[str, str | None]:
    """Record what the host says about itself; return its department, and the name the
    report asked for when it was refused (another host has it), else None.

    On PostgreSQL the UPDATE also locks the host row until commit, so two reports of the same
    host are applied one after the other.
    """
    stamp = cursor.time(now)
    hostname = report.host.hostname
    updated = cursor.fetch(
        _HOST_UPDATE,
        (
            hostname,
            hostname,
            hostname,
            report.host.os,
            report.host.os_version,
            report.host.arch,
            report.agent.version,
            report.agent.catalogue_version,
            stamp,
            cursor.json(dict(report.health)),
            cursor.json([error.to_dict() for error in report.scanner_errors]),
            agent.host_id,
        ),
    )
    if not updated:
        raise NotFound("host", agent.host_id)
    cursor.run(_AGENT_UPDATE, (stamp, agent.id))
    department, kept = updated[0]
    return str(department), (hostname if kept != hostname else None)


def _seen_windows(
    findings: list[Finding], identities: list[ItemIdentity]
) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Return, per item key, the earliest first-seen and latest last-seen of this report."""
    windows: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for finding, identity in zip(findings, identities, strict=True):
        first, last = windows.get(identity.key, (finding.first_seen, finding.last_seen))
        windows[identity.key] = (min(first, finding.first_seen), max(last, finding.last_seen))
    return windows


_ITEM_SELECT = (
    "SELECT id, key, governed_status, first_seen_at, last_seen_at, severity, "
    "allowed_departments FROM inventory_items"
)
_ITEM_SEVERITY_UPDATE = "UPDATE inventory_items SET severity = ?, updated_at = ? WHERE id = ?"
_ITEM_INSERT = BulkInsert(
    "inventory_items",
    (
        ("key", "text"),
        ("service_id", "text"),
        ("name", "text"),
        ("vendor", "text"),
        ("category", "text"),
        ("state", "text"),
        ("first_seen_at", "timestamptz"),
        ("last_seen_at", "timestamptz"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("host_count", "integer"),
        ("user_count", "integer"),
        ("sighting_count", "integer"),
        ("violation_count", "integer"),
        ("severity", "text"),
    ),
    # DO NOTHING takes no lock on an existing item: popular items are not serialised here.
    "ON CONFLICT (key) DO NOTHING "
    "RETURNING id, key, governed_status, first_seen_at, last_seen_at, severity, "
    "allowed_departments",
)


def _items(cursor: IngestCursor, rows: list[Any]) -> dict[str, _Item]:
    return {
        key: _Item(
            item_id, status, cursor.read_time(first), cursor.read_time(last), severity, allowed
        )
        for item_id, key, status, first, last, severity, allowed in rows
    }


def _ensure_items(
    cursor: IngestCursor,
    identities: list[ItemIdentity],
    windows: dict[str, tuple[dt.datetime, dt.datetime]],
    now: dt.datetime,
    agent_id: int,
    limits: IngestLimits,
) -> tuple[dict[str, _Item], LimitHit | None]:
    """Insert the items this report names that do not exist yet, as many as the limits
    admit; return every admitted item by key, and the limit hit if some were deferred (its
    ``deferred_findings`` is for the caller to count)."""
    by_key = {identity.key: identity for identity in identities}
    items = _items(cursor, cursor.fetch_in(_ITEM_SELECT, "key", list(by_key)))
    _refresh_severity(cursor, items, by_key, now)
    missing = sorted(set(by_key) - set(items))
    if not missing:
        return items, None  # the steady state: every item exists
    allowance, hit = _new_item_allowance(cursor, agent_id, limits, now, len(missing))
    if hit is not None:
        # Catalogue services before unknown candidates: they are what people govern.
        missing.sort(key=lambda key: (by_key[key].service_id is None, key))
        hit = replace(hit, deferred_items=len(missing) - allowance)
        missing = missing[:allowance]
    stamp = cursor.time(now)
    rows = [
        (
            key,
            identity.service_id,
            identity.name,
            identity.vendor,
            identity.category,
            "new",
            # Widened by _update_items when another report created the item first.
            cursor.time(windows[key][0]),
            cursor.time(windows[key][1]),
            stamp,
            stamp,
            0,
            0,
            0,
            0,
            identity.severity,
        )
        for key, identity in ((key, by_key[key]) for key in missing)
    ]
    created = _items(cursor, cursor.insert(_ITEM_INSERT, rows))
    items.update(created)
    raced = [key for key in missing if key not in items]  # inserted by another report first
    if raced:
        items.update(_items(cursor, cursor.fetch_in(_ITEM_SELECT, "key", raced)))
    if limits.new_items_per_agent_hour is not None or hit is not None:
        _count_new_items(cursor, agent_id, len(created), now)
    return items, hit


_QUOTA_SELECT = "SELECT window_start, new_items FROM ingest_quotas WHERE agent_id = ?"
_QUOTA_UPSERT = (
    "INSERT INTO ingest_quotas (agent_id, window_start, new_items, limited_reports, "
    "last_limited) VALUES (?, ?, ?, 0, ?) ON CONFLICT (agent_id) DO UPDATE SET "
    "window_start = excluded.window_start, new_items = excluded.new_items"
)
_LIMIT_HIT_UPDATE = (
    "UPDATE ingest_quotas SET limited_reports = limited_reports + 1, last_limited_at = ?, "
    "last_limited = ? WHERE agent_id = ?"
)


def _hour(now: dt.datetime) -> dt.datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _created_this_hour(cursor: IngestCursor, agent_id: int, now: dt.datetime) -> int:
    """The new items the agent created in the current clock hour (its window restarts on
    the hour). The host row, updated first, serialises the agent's reports, so this read
    cannot race another report of the same agent."""
    found = cursor.fetch(_QUOTA_SELECT, (agent_id,))
    if not found or cursor.read_time(found[0][0]) < _hour(now):
        return 0
    return int(found[0][1])


def _new_item_allowance(
    cursor: IngestCursor, agent_id: int, limits: IngestLimits, now: dt.datetime, wanted: int
) -> tuple[int, LimitHit | None]:
    """Return how many of ``wanted`` new items the limits admit, and the binding limit when
    that is fewer (deferred counts are the caller's to fill in)."""
    bounds: list[tuple[int, str, int]] = []
    if limits.new_items_per_report is not None:
        per_report = limits.new_items_per_report
        bounds.append((per_report, "new_items_per_report", per_report))
    if limits.new_items_per_agent_hour is not None:
        per_hour = limits.new_items_per_agent_hour
        left = max(0, per_hour - _created_this_hour(cursor, agent_id, now))
        bounds.append((left, "new_items_per_agent_hour", per_hour))
    if not bounds:
        return wanted, None
    allowance, name, maximum = min(bounds)
    if allowance >= wanted:
        return wanted, None
    return allowance, LimitHit(name, maximum, deferred_items=0, deferred_findings=0)


def _count_new_items(cursor: IngestCursor, agent_id: int, created: int, now: dt.datetime) -> None:
    total = _created_this_hour(cursor, agent_id, now) + created
    cursor.run(_QUOTA_UPSERT, (agent_id, cursor.time(_hour(now)), total, cursor.json({})))


def _record_limit_hit(
    cursor: IngestCursor,
    agent_id: int,
    report_id: str,
    limited: tuple[LimitHit, ...],
    now: dt.datetime,
) -> None:
    detail = {"report_id": report_id, "limits": [hit.to_dict() for hit in limited]}
    cursor.run(_LIMIT_HIT_UPDATE, (cursor.time(now), cursor.json(detail), agent_id))


def _refresh_severity(
    cursor: IngestCursor,
    items: dict[str, _Item],
    by_key: dict[str, ItemIdentity],
    now: dt.datetime,
) -> None:
    """Bring an item's severity in line with the collector's catalogue (a report published
    after the item was first seen makes it malicious; a withdrawn one makes it normal)."""
    stale = [
        (by_key[key].severity, cursor.time(now), item.id)
        for key, item in items.items()
        if key in by_key and item.severity != by_key[key].severity
    ]
    if stale:
        cursor.run_many(_ITEM_SEVERITY_UPDATE, stale)
        for key, item in list(items.items()):
            if key in by_key:
                items[key] = dataclasses.replace(item, severity=by_key[key].severity)


_SIGHTING_SELECT = (
    "SELECT item_id, kind, indicator, user_name, first_seen_at, last_seen_at "
    "FROM sightings WHERE host_id = ?"
)
_SIGHTING_UPSERT = BulkInsert(
    "sightings",
    (
        ("item_id", "integer"),
        ("host_id", "integer"),
        ("kind", "text"),
        ("indicator", "text"),
        ("indicator_kind", "text"),
        ("user_name", "text"),
        ("confidence", "text"),
        ("heuristic", "text"),
        ("evidence", "jsonb"),
        ("first_seen_at", "timestamptz"),
        ("last_seen_at", "timestamptz"),
        ("profile_account", "text"),
    ),
    "ON CONFLICT (item_id, host_id, kind, indicator, user_name) DO UPDATE SET "
    "confidence = excluded.confidence, heuristic = excluded.heuristic, "
    "evidence = excluded.evidence, profile_account = excluded.profile_account, "
    "first_seen_at = {least}(excluded.first_seen_at, sightings.first_seen_at), "
    "last_seen_at = {greatest}(excluded.last_seen_at, sightings.last_seen_at)",
)


def profile_account(finding: Finding) -> str:
    """Return the class of the browser profile a finding came from, or "" (anything else)."""
    value = finding.evidence.get("profile_account")
    return value if isinstance(value, str) and value in PROFILE_ACCOUNTS else ""


def _upsert_sightings(
    cursor: IngestCursor,
    host_id: int,
    findings: list[Finding],
    identities: list[ItemIdentity],
    items: dict[str, _Item],
    rollup: _Rollup,
) -> list[bool]:
    """Write new and refreshed sightings; return, per finding, whether its sighting is new."""
    # The host row is locked (or, on SQLite, the database), so this read cannot go stale.
    known = {
        (item_id, kind, indicator, user): (first, last)
        for item_id, kind, indicator, user, first, last in cursor.fetch(
            _SIGHTING_SELECT, (host_id,)
        )
    }
    new: list[bool] = []
    rows = []
    for finding, identity in zip(findings, identities, strict=True):
        # A sighting is stored under its item and its finding key (the item stands for the
        # key's service id).
        key = finding.key()
        item_id = items[identity.key].id
        stored = known.get((item_id, key.kind, key.indicator, key.user))
        new.append(stored is None)
        if stored is None:
            rollup.sightings[item_id] += 1
        elif _within(
            (cursor.read_time(stored[0]), cursor.read_time(stored[1])),
            finding.first_seen,
            finding.last_seen,
        ):
            continue  # the cheap path: seen again within the refresh interval, nothing to write
        rows.append(
            (
                item_id,
                host_id,
                key.kind,
                key.indicator,
                finding.indicator_kind,
                key.user,
                finding.confidence.value,
                finding.heuristic,
                cursor.json(dict(finding.evidence)),
                cursor.time(finding.first_seen),
                cursor.time(finding.last_seen),
                profile_account(finding),
            )
        )
    if rows:
        rows.sort(key=lambda row: (row[0], row[2], row[3], row[5]))
        cursor.insert(_SIGHTING_UPSERT, rows)
    return new


def _within(
    stored: tuple[dt.datetime, dt.datetime], first_seen: dt.datetime, last_seen: dt.datetime
) -> bool:
    """Whether a stored seen window already covers a new one, to within the refresh interval."""
    return stored[0] <= first_seen and last_seen - stored[1] < LAST_SEEN_REFRESH


_ITEM_HOST_SELECT = "SELECT item_id, last_day FROM item_hosts WHERE host_id = ?"
_ITEM_HOST_UPSERT = BulkInsert(
    "item_hosts",
    (("item_id", "integer"), ("host_id", "integer"), ("first_day", "date"), ("last_day", "date")),
    # Only inserted rows and rows moved to a new day come back; an inserted one has
    # first_day == today, an updated one an earlier first_day.
    "ON CONFLICT (item_id, host_id) DO UPDATE SET last_day = excluded.last_day "
    "WHERE item_hosts.last_day < excluded.last_day RETURNING item_id, first_day",
)


_HOST_ITEM_COUNT = "UPDATE hosts SET item_count = item_count + ? WHERE id = ?"


def _upsert_item_hosts(
    cursor: IngestCursor, host_id: int, items: dict[str, _Item], today: dt.date, rollup: _Rollup
) -> None:
    """Count a host once per item, and once per item per day for the trend."""
    # Rows already dated today are left alone: the upsert would not change them. The last day
    # only ever moves forward, so a stale read can only let a row through to the upsert.
    counted_today = {
        item_id
        for item_id, last_day in cursor.fetch(_ITEM_HOST_SELECT, (host_id,))
        if cursor.read_day(last_day) >= today
    }
    day = cursor.day(today)
    rows = [
        (item.id, host_id, day, day)
        for item in sorted(items.values(), key=lambda item: item.id)
        if item.id not in counted_today
    ]
    inserted = 0
    for item_id, first_day in cursor.insert(_ITEM_HOST_UPSERT, rows):
        rollup.daily[item_id] += 1
        if cursor.read_day(first_day) == today:
            rollup.hosts[item_id] += 1
            inserted += 1
    if inserted:
        # The host row is locked since _touch_host: this adds no lock and no wait.
        cursor.run(_HOST_ITEM_COUNT, (inserted, host_id))


_DAILY_UPSERT = BulkInsert(
    "item_daily",
    (("item_id", "integer"), ("day", "date"), ("shard", "integer"), ("host_count", "integer")),
    "ON CONFLICT (item_id, day, shard) DO UPDATE "
    "SET host_count = item_daily.host_count + excluded.host_count",
)


def _count_daily_hosts(cursor: IngestCursor, host_id: int, today: dt.date, rollup: _Rollup) -> None:
    """Add this host to today's trend rows (one of DAILY_SHARDS rows per item, by host)."""
    day = cursor.day(today)
    rows = [
        (item_id, day, host_id % DAILY_SHARDS, count)
        for item_id, count in sorted(rollup.daily.items())
    ]
    cursor.insert(_DAILY_UPSERT, rows)


#: Evidence kinds whose indicator is a domain name (the item's "domain" facet).
DOMAIN_KINDS = frozenset({"dns", "sni", "connection", "log"})

_FACET_INSERT = BulkInsert(
    "item_facets",
    (("item_id", "integer"), ("facet", "text"), ("value", "text")),
    "ON CONFLICT (item_id, facet, value) DO NOTHING RETURNING item_id, facet",
)


def _insert_facets(
    cursor: IngestCursor,
    findings: list[Finding],
    identities: list[ItemIdentity],
    new: list[bool],
    items: dict[str, _Item],
    department: str,
    rollup: _Rollup,
) -> None:
    """Add the evidence kinds, users, processes, domains, browsers and department this report
    shows per item.

    A sighting's kind, user, process and domain facets were inserted with the sighting (in its
    transaction, never deleted but with the item), so only new sightings can add those.
    """
    facets: set[tuple[int, str, str]] = set()
    for finding, identity, is_new in zip(findings, identities, new, strict=True):
        item_id = items[identity.key].id
        if is_new:
            facets.add((item_id, "kind", finding.kind.value))
            if finding.user:
                facets.add((item_id, "user", finding.user[:_FACET_LENGTH]))
            indicator = finding.indicator[:_FACET_LENGTH]
            if finding.kind.value == "process":
                facets.add((item_id, "process", indicator))
            elif finding.kind.value in DOMAIN_KINDS or finding.indicator_kind == "domain":
                facets.add((item_id, "domain", indicator))
        browser = finding.evidence.get("browser")
        if isinstance(browser, str) and browser:
            facets.add((item_id, "browser", browser[:_FACET_LENGTH]))
        account = profile_account(finding)
        if account:
            facets.add((item_id, "account", account))
    if department:
        value = department[:_FACET_LENGTH]
        facets.update((item.id, "department", value) for item in items.values())
    for item_id, facet in cursor.insert(_FACET_INSERT, sorted(facets)):
        if facet == "user":
            rollup.users[item_id] += 1


_VIOLATION_UPSERT = BulkInsert(
    "violations",
    (
        ("item_id", "integer"),
        ("host_id", "integer"),
        ("user_name", "text"),
        ("channel", "text"),
        ("reason", "text"),
        ("department", "text"),
        ("first_seen_at", "timestamptz"),
        ("last_seen_at", "timestamptz"),
    ),
    "ON CONFLICT (item_id, host_id, user_name, channel) DO UPDATE SET "
    "last_seen_at = {greatest}(excluded.last_seen_at, violations.last_seen_at), "
    "reason = excluded.reason, department = excluded.department "
    "RETURNING id, item_id, first_seen_at",
)
_VIOLATION_DAY_INSERT = BulkInsert(
    "violation_days",
    (("violation_id", "integer"), ("day", "date")),
    "ON CONFLICT (violation_id, day) DO NOTHING",
)
_VIOLATION_SELECT = (
    "SELECT item_id, user_name, channel, reason, last_seen_at FROM violations WHERE host_id = ?"
)


def _violation_current(
    stored: tuple[str, dt.datetime] | None, reason: str, last_seen: dt.datetime, now: dt.datetime
) -> bool:
    """Whether a stored violation already says this: same reason, dated today, and last seen
    within the refresh interval."""
    if stored is None or stored[0] != reason:
        return False
    stored_last = stored[1]
    return stored_last.date() == now.date() and last_seen - stored_last < LAST_SEEN_REFRESH


def _allowed_departments(item: _Item) -> list[str]:
    """The departments a restricted item's entry allows (decoded only for such items)."""
    if item.governed_status != RESTRICTED or not item.allowed_departments:
        return []
    value = json.loads(item.allowed_departments)
    return [str(name) for name in value] if isinstance(value, list) else []


def _record_violations(
    cursor: IngestCursor,
    host_id: int,
    department: str,
    findings: list[Finding],
    identities: list[ItemIdentity],
    items: dict[str, _Item],
    now: dt.datetime,
    rollup: _Rollup,
) -> None:
    """Record each (item, user, channel) the register forbids on this host, and the day."""
    governed = [item for item in items.values() if item.governed_status]
    if not governed:
        return  # the common case: nothing this report names is forbidden anywhere
    allowed = {item.id: _allowed_departments(item) for item in governed}
    seen: dict[tuple[int, str, str], tuple[str, dt.datetime]] = {}
    for finding, identity in zip(findings, identities, strict=True):
        item = items[identity.key]
        reason = violation_reason(
            item.governed_status,
            department=department,
            allowed_departments=allowed.get(item.id, []),
        )
        if reason:
            violation = (item.id, finding.key().user, finding.kind.value)
            last = seen[violation][1] if violation in seen else finding.last_seen
            seen[violation] = (reason, max(last, finding.last_seen))
    if not seen:
        return
    # The cheap path, as for sightings: a violation already recorded today, seen again within
    # the refresh interval for the same reason, writes nothing (and leaves the item alone).
    stored = {
        (item_id, user, channel): (reason, cursor.read_time(last))
        for item_id, user, channel, reason, last in cursor.fetch(_VIOLATION_SELECT, (host_id,))
    }
    stamp = cursor.time(now)
    place = department[:_FACET_LENGTH]
    rows = [
        (item_id, host_id, user, channel, reason, place, stamp, cursor.time(last_seen))
        for (item_id, user, channel), (reason, last_seen) in sorted(seen.items())
        if not _violation_current(stored.get((item_id, user, channel)), reason, last_seen, now)
    ]
    if not rows:
        return
    upserted = cursor.insert(_VIOLATION_UPSERT, rows)
    day = cursor.day(now.date())
    cursor.insert(_VIOLATION_DAY_INSERT, sorted((row[0], day) for row in upserted))
    for _violation_id, item_id, first_seen in upserted:
        rollup.violated.add(item_id)
        if cursor.read_time(first_seen) == now:  # a new (item, host, user, channel): counted
            rollup.violations[item_id] += 1  # (a repeat only dates it)


@cache
def _item_update(least: str, greatest: str) -> str:
    # least and greatest are the dialect's function names (IngestCursor), never input.
    return (
        f"UPDATE inventory_items SET first_seen_at = {least}(?, first_seen_at), "  # noqa: S608
        f"last_seen_at = {greatest}(?, last_seen_at), host_count = host_count + ?, "
        "user_count = user_count + ?, sighting_count = sighting_count + ?, "
        "violation_count = violation_count + ?, "
        "last_violation_at = CASE WHEN ? THEN ? ELSE last_violation_at END, updated_at = ? "
        "WHERE id = ?"
    )


def _update_items(
    cursor: IngestCursor,
    windows: dict[str, tuple[dt.datetime, dt.datetime]],
    items: dict[str, _Item],
    now: dt.datetime,
    rollup: _Rollup,
) -> None:
    """Widen each item's seen window and add this report's increments, in id order."""
    stamp = cursor.time(now)
    rows = [
        (
            cursor.time(windows[key][0]),
            cursor.time(windows[key][1]),
            rollup.hosts[item.id],
            rollup.users[item.id],
            rollup.sightings[item.id],
            rollup.violations[item.id],
            item.id in rollup.violated,
            stamp,
            stamp,
            item.id,
        )
        for key, item in sorted(items.items(), key=lambda pair: pair[1].id)
        if _changes(item, windows[key], rollup)
    ]
    cursor.run_many(_item_update(cursor.least, cursor.greatest), rows)


def _changes(item: _Item, window: tuple[dt.datetime, dt.datetime], rollup: _Rollup) -> bool:
    counted = (rollup.hosts, rollup.users, rollup.sightings, rollup.violations)
    if any(counter[item.id] for counter in counted) or item.id in rollup.violated:
        return True
    return not _within((item.first_seen_at, item.last_seen_at), *window)
