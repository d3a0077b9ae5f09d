"""What the collector does with the runtime's reports: heartbeats, deltas and clock skew."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import CLOCK_AHEAD_TOLERANCE, ingest_report
from collector.store import hosts
from collector.store.base import utcnow
from collector.store.hosts import Host
from collector.store.inventory import Sighting
from signatures import ReportKind, load_catalogue
from tests.factories import enrolled_agent, finding, report

CATALOGUE = load_catalogue()


def test_a_heartbeat_updates_host_health_only(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    ingest_report(db, agent=agent, report=report([finding()]), catalogue=CATALOGUE)
    before = db.scalars(select(Sighting)).one().last_seen_at
    beat = dataclasses.replace(
        report([]),  # a heartbeat carries no findings (one that does is refused: 422)
        kind=ReportKind.HEARTBEAT,
        health={"spool_bytes": 4096, "capture_status": "off"},
    )
    result = ingest_report(db, agent=agent, report=beat, catalogue=CATALOGUE)
    assert (result.findings, result.items, result.duplicate) == (0, 0, False)
    host = db.get(Host, agent.host_id)
    assert host is not None and host.health == {"spool_bytes": 4096, "capture_status": "off"}
    assert db.scalars(select(Sighting)).one().last_seen_at == before
    rows = hosts.list_hosts(db, stale_after=dt.timedelta(hours=3))
    assert [row.stale for row in rows] == [False]


def test_a_delta_adds_to_what_full_reports_stored(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    ingest_report(db, agent=agent, report=report([finding(user="alice")]), catalogue=CATALOGUE)
    delta = dataclasses.replace(report([finding(user="bob")]), kind=ReportKind.DELTA)
    ingest_report(db, agent=agent, report=delta, catalogue=CATALOGUE)
    users = sorted(s.user_name for s in db.scalars(select(Sighting)))
    assert users == ["alice", "bob"]


def test_an_agent_clock_ahead_is_clamped_and_one_behind_is_kept(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    now = utcnow()
    ahead = now + dt.timedelta(days=2)
    behind = now - dt.timedelta(days=2)
    ingest_report(
        db,
        agent=agent,
        report=report([finding(user="ahead", seen=ahead), finding(user="behind", seen=behind)]),
        catalogue=CATALOGUE,
    )
    seen = {s.user_name: s for s in db.scalars(select(Sighting))}
    assert now - dt.timedelta(seconds=5) <= seen["ahead"].last_seen_at <= utcnow()
    assert seen["ahead"].first_seen_at <= seen["ahead"].last_seen_at
    assert abs(seen["behind"].last_seen_at - behind) < dt.timedelta(seconds=1)
    # A small skew inside the tolerance is not touched.
    slight = now + CLOCK_AHEAD_TOLERANCE / 2
    ingest_report(
        db, agent=agent, report=report([finding(user="slight", seen=slight)]), catalogue=CATALOGUE
    )
    stored = db.scalars(select(Sighting).where(Sighting.user_name == "slight")).one()
    assert abs(stored.last_seen_at - slight) < dt.timedelta(seconds=1)
    # Staleness uses the collector's clock: a host whose agent runs behind is still fresh.
    assert [row.stale for row in hosts.list_hosts(db, stale_after=dt.timedelta(hours=1))] == [False]


def test_an_items_severity_follows_the_collectors_catalogue_not_the_agent(db: Session) -> None:
    from collector.store.inventory import InventoryItem
    from signatures import Catalogue, FindingKind, IndicatorKind, Severity

    service = next(
        s
        for s in CATALOGUE.malicious_services()
        if s.indicators.get(IndicatorKind.BROWSER_EXTENSION)
    )
    extension = service.indicators[IndicatorKind.BROWSER_EXTENSION][0]
    seen = dataclasses.replace(
        finding(service.id, kind=FindingKind.BROWSER_EXTENSION, indicator=extension),
        severity=Severity.NORMAL,  # an agent with an older catalogue, or one that lies
    )
    # Before the report was published: the collector's catalogue has no malicious block.
    before = Catalogue(
        version="before",
        services=tuple(
            dataclasses.replace(s, malicious=None) if s.id == service.id else s
            for s in CATALOGUE.services
        ),
    )
    agent, _ = enrolled_agent(db)
    ingest_report(db, agent=agent, report=report([seen]), catalogue=before)
    item = db.scalars(select(InventoryItem).where(InventoryItem.service_id == service.id)).one()
    assert item.severity == "normal"
    # The collector's catalogue now carries the report: the next report makes the item malicious.
    ingest_report(db, agent=agent, report=report([seen]), catalogue=CATALOGUE)
    db.refresh(item)
    assert item.severity == "malicious"
