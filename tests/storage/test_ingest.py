"""Ingest and dedup, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.errors import ReportRejected
from collector.ingest import ingest_report, parse_agent_report
from collector.store import hosts as hosts_store
from collector.store import inventory
from collector.store.agents import Report
from collector.store.base import utcnow
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem, Sighting
from server.inventory import service as triage
from signatures import FindingKind, ScannerError, load_catalogue
from tests.factories import T0, enrolled_agent, finding, report

CATALOGUE = load_catalogue()


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_findings_from_many_hosts_roll_up_into_one_item_per_service(db: Session) -> None:
    for number in range(3):
        agent, _ = enrolled_agent(db, agent_uid=f"agent-{number:04d}", hostname=f"host-{number}")
        ingest_report(
            db,
            agent=agent,
            catalogue=CATALOGUE,
            report=report(
                [
                    finding("openai-chatgpt", user=f"user{number}"),
                    finding("anthropic-claude", indicator="Claude"),
                ],
                agent_id=agent.agent_uid,
                hostname=f"host-{number}",
            ),
        )

    rows = {row.item.key: row for row in inventory.list_inventory(db)}
    assert set(rows) == {"svc:openai-chatgpt", "svc:anthropic-claude"}
    chatgpt = rows["svc:openai-chatgpt"]
    assert (chatgpt.host_count, chatgpt.user_count, chatgpt.sighting_count) == (3, 3, 3)
    assert chatgpt.item.name == "ChatGPT" and chatgpt.item.vendor == "OpenAI"
    assert chatgpt.item.category == "chat_assistant"
    assert rows["svc:anthropic-claude"].host_count == 3
    assert rows["svc:anthropic-claude"].user_count == 1  # all three were "alice"


def test_a_retried_report_is_not_counted_twice(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    sent = report([finding()], agent_id=agent.agent_uid)

    first = ingest_report(db, agent=agent, report=sent, catalogue=CATALOGUE)
    again = ingest_report(db, agent=agent, report=sent, catalogue=CATALOGUE)

    assert not first.duplicate and again.duplicate
    assert _count(db, Report) == 1
    assert _count(db, Sighting) == 1


def test_repeated_sightings_widen_the_seen_window(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    later = T0 + dt.timedelta(days=2)
    ingest_report(db, agent=agent, catalogue=CATALOGUE, report=report([finding(seen=later)]))
    ingest_report(db, agent=agent, catalogue=CATALOGUE, report=report([finding(seen=T0)]))

    item = db.scalars(select(InventoryItem)).one()
    sighting = db.scalars(select(Sighting)).one()
    assert item.first_seen_at == T0 and item.last_seen_at == later
    assert sighting.last_seen_at == later


def test_duplicate_findings_inside_one_report_merge(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    result = ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report([finding(seen=T0), finding(seen=T0 + dt.timedelta(hours=1))]),
    )
    assert result.findings == 1
    assert _count(db, Sighting) == 1


def test_a_finding_finds_its_stored_sighting_by_the_finding_key(db: Session) -> None:
    # Stored sightings hold the indicator and user cut at the wire limits (the column widths);
    # a finding that carries longer ones (an imported log is not schema-checked) lands on them.
    agent, _ = enrolled_agent(db)
    indicator, user = "x" * 1024, "u" * 256

    def seen(at: dt.datetime, tail: str) -> None:
        long = finding(indicator=indicator + tail, user=user + tail, seen=at)
        ingest_report(db, agent=agent, catalogue=CATALOGUE, report=report([long]))

    seen(T0, "-first")
    seen(T0 + dt.timedelta(hours=3), "-second")

    sighting = db.scalars(select(Sighting)).one()
    key = finding(indicator=indicator, user=user).key()
    assert (sighting.kind, sighting.indicator, sighting.user_name) == (
        key.kind,
        key.indicator,
        key.user,
    )
    assert sighting.last_seen_at == T0 + dt.timedelta(hours=3)
    assert db.scalars(select(InventoryItem)).one().sighting_count == 1


def test_unknown_candidates_group_by_indicator_across_hosts(db: Session) -> None:
    for number in range(4):
        agent, _ = enrolled_agent(db, agent_uid=f"agent-{number:04d}")
        ingest_report(
            db,
            agent=agent,
            catalogue=CATALOGUE,
            report=report(
                [
                    finding(
                        None,
                        kind=FindingKind.BROWSER_EXTENSION,
                        indicator="abcdefghijklmnopabcdefghijklmnop",
                        indicator_kind="browser_extension",
                        heuristic="host permission on chatgpt.com",
                    )
                ],
                agent_id=agent.agent_uid,
            ),
        )
    rows = inventory.list_inventory(db)
    assert len(rows) == 1
    assert rows[0].item.key == "cand:browser_extension:abcdefghijklmnopabcdefghijklmnop"
    assert rows[0].item.service_id is None and rows[0].host_count == 4


def test_triage_state_survives_new_sightings(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    ingest_report(db, agent=agent, catalogue=CATALOGUE, report=report([finding()]))
    item = db.scalars(select(InventoryItem)).one()
    triage.transition_item(db, actor="rita", item_id=item.id, target="triaging")

    ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report([finding(seen=T0 + dt.timedelta(days=1))]),
    )
    db.refresh(item)
    assert item.state == "triaging"
    assert item.last_seen_at == T0 + dt.timedelta(days=1)


def test_ingest_records_host_health_and_scanner_errors(db: Session) -> None:
    agent, _ = enrolled_agent(db, hostname="old-name")
    ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report(
            [],
            hostname="new-name",
            errors=[ScannerError(scanner="browsers", message="corrupt Preferences", path="/x")],
        ),
    )
    hosts = hosts_store.list_hosts(db, stale_after=dt.timedelta(hours=1))
    assert [row.host.hostname for row in hosts] == ["new-name"]
    assert hosts[0].host.scanner_errors[0]["message"] == "corrupt Preferences"
    assert not hosts[0].stale and hosts[0].item_count == 0


def test_hosts_that_stop_reporting_are_stale(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    ingest_report(db, agent=agent, catalogue=CATALOGUE, report=report([finding()]))
    agent.host.last_report_at = utcnow() - dt.timedelta(hours=5)
    db.flush()
    (row,) = hosts_store.list_hosts(db, stale_after=dt.timedelta(hours=3))
    assert row.stale and row.item_count == 1


def test_nul_in_hostile_strings_is_replaced_not_refused_on_both_backends(db: Session) -> None:
    # JSON allows \u0000; PostgreSQL text and JSONB do not. The finding must still land.
    agent, _ = enrolled_agent(db)
    wire = report(
        [
            finding(
                None,
                kind=FindingKind.BROWSER_EXTENSION,
                indicator="evil\x00ext",
                indicator_kind="extension_id",
                heuristic="llm-ish",
                user="bob\x00",
                evidence={"name\x00": "Ask\x00GPT"},
            )
        ],
        agent_id=agent.agent_uid,
        hostname="lap\x00top",
    )
    body = wire.to_json()
    assert b"\\u0000" in body
    ingest_report(db, agent=agent, catalogue=CATALOGUE, report=parse_agent_report(body))
    (row,) = inventory.list_inventory(db)
    (sighting,) = db.scalars(select(Sighting)).all()
    assert sighting.indicator == "evil\ufffdext"
    assert sighting.evidence == {"name\ufffd": "Ask\ufffdGPT"}
    assert row.host_count == 1 and row.user_count == 1
    assert db.scalars(select(Host.hostname)).all() == ["lap\ufffdtop"]


def test_a_value_the_database_cannot_hold_is_a_rejected_report(db: Session) -> None:
    """Under the parser's checks, a net: text no backend stores (a lone surrogate) reaching
    the store is ReportRejected (422), on SQLite and PostgreSQL, not a driver error (500)."""
    agent, _ = enrolled_agent(db)
    for hostile in (
        report([finding(indicator="chat\ud800gpt")]),
        report([finding(evidence={"path": "/x/\udfff"})]),
    ):
        with pytest.raises(ReportRejected, match="cannot be stored"), db.begin_nested():
            ingest_report(db, agent=agent, catalogue=CATALOGUE, report=hostile)
