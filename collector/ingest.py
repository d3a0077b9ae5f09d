"""Turn one agent report into hosts, sightings and draft inventory items, in one transaction.

Upserts use INSERT ... ON CONFLICT on both SQLite and PostgreSQL, so concurrent reports from
many agents, through any number of server replicas, never create duplicate items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from collector.dedup import ItemIdentity, item_identity, merge_findings, sighting_key
from collector.models import Agent, Host, InventoryItem, Report, Sighting, utcnow
from collector.store import dialect_insert
from signatures import Catalogue, Finding, ReportKind
from signatures import Report as WireReport

# An agent clock this far ahead is tolerated as is; beyond it, times are clamped to the
# collector's clock (received_at), so a skewed agent cannot push "last seen" into the future.
# An agent clock behind cannot be told from a report delayed in the offline spool, so past
# times are kept; staleness uses the collector's own received_at either way.
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


@dataclass(frozen=True, slots=True)
class IngestResult:
    report_id: str
    duplicate: bool
    findings: int
    items: int


def ingest_report(
    session: Session, *, agent: Agent, report: WireReport, catalogue: Catalogue
) -> IngestResult:
    """Store a validated report for an authenticated agent; idempotent by report id.

    The caller commits once; a duplicate report writes nothing.
    """
    now = utcnow()
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

    host = session.get(Host, agent.host_id)
    assert host is not None  # agents.host_id is a non-null foreign key
    host.hostname = report.host.hostname
    host.os = report.host.os
    host.os_version = report.host.os_version
    host.arch = report.host.arch
    host.agent_version = report.agent.version
    host.catalogue_version = report.agent.catalogue_version
    host.last_report_at = now
    host.health = dict(report.health)
    host.scanner_errors = [error.to_dict() for error in report.scanner_errors]
    agent.last_seen_at = now
    if report.kind is ReportKind.HEARTBEAT:
        # A heartbeat says the agent is alive and how it is; it carries no state.
        return IngestResult(report.report_id, duplicate=False, findings=0, items=0)

    findings = merge_findings(clamp_future_times(list(report.findings), now=now))
    identities = {id(finding): item_identity(finding, catalogue) for finding in findings}
    item_ids = _upsert_items(session, findings, identities)
    _upsert_sightings(session, host.id, findings, identities, item_ids)
    return IngestResult(
        report.report_id, duplicate=False, findings=len(findings), items=len(item_ids)
    )


def _upsert_items(
    session: Session, findings: list[Finding], identities: dict[int, ItemIdentity]
) -> dict[str, int]:
    window: dict[str, tuple[ItemIdentity, Finding, Finding]] = {}
    for finding in findings:
        identity = identities[id(finding)]
        known = window.get(identity.key)
        if known is None:
            window[identity.key] = (identity, finding, finding)
        else:
            first = finding if finding.first_seen < known[1].first_seen else known[1]
            last = finding if finding.last_seen > known[2].last_seen else known[2]
            window[identity.key] = (identity, first, last)
    if not window:
        return {}
    now = utcnow()
    rows = [
        {
            "key": identity.key,
            "service_id": identity.service_id,
            "name": identity.name,
            "vendor": identity.vendor,
            "category": identity.category,
            "state": "new",
            "first_seen_at": first.first_seen,
            "last_seen_at": last.last_seen,
            "created_at": now,
            "updated_at": now,
        }
        for identity, first, last in (window[key] for key in sorted(window))
    ]
    statement = dialect_insert(session, InventoryItem)
    table = InventoryItem.__table__.c
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={
            # The triage state is never touched here: an approved item stays approved.
            "first_seen_at": case(
                (excluded.first_seen_at < table.first_seen_at, excluded.first_seen_at),
                else_=table.first_seen_at,
            ),
            "last_seen_at": case(
                (excluded.last_seen_at > table.last_seen_at, excluded.last_seen_at),
                else_=table.last_seen_at,
            ),
            "updated_at": excluded.updated_at,
        },
    ).returning(InventoryItem.id, InventoryItem.key)
    # Sorted keys keep lock order stable, so concurrent batches cannot deadlock.
    result = session.execute(statement.values(rows))
    return {key: item_id for item_id, key in result.all()}


def _upsert_sightings(
    session: Session,
    host_id: int,
    findings: list[Finding],
    identities: dict[int, ItemIdentity],
    item_ids: dict[str, int],
) -> None:
    rows = []
    for finding in findings:
        kind, indicator, user = sighting_key(finding)
        rows.append(
            {
                "item_id": item_ids[identities[id(finding)].key],
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
    if not rows:
        return
    rows.sort(key=lambda row: (row["item_id"], row["kind"], row["indicator"], row["user_name"]))
    statement = dialect_insert(session, Sighting)
    table = Sighting.__table__.c
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["item_id", "host_id", "kind", "indicator", "user_name"],
        set_={
            "confidence": excluded.confidence,
            "heuristic": excluded.heuristic,
            "evidence": excluded.evidence,
            "last_seen_at": case(
                (excluded.last_seen_at > table.last_seen_at, excluded.last_seen_at),
                else_=table.last_seen_at,
            ),
        },
    )
    session.execute(statement.values(rows))


def report_exists(session: Session, *, report_id: str) -> bool:
    return session.scalar(select(Report.id).where(Report.report_uid == report_id)) is not None
