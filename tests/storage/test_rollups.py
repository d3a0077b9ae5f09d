"""Inventory roll-ups, trend, violations, report kinds and retention, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from collector import retention
from collector.errors import NotFound, ReportRejected
from collector.ingest import ingest_report
from collector.store import hosts, inventory, register
from collector.store.agents import Agent, Report
from collector.store.base import utcnow
from collector.store.hosts import Host, ItemHost
from collector.store.inventory import InventoryItem, Sighting, Violation
from server.inventory import service as triage_service
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import Finding, FindingKind, ReportKind, load_catalogue
from signatures import Report as WireReport
from tests.factories import T0, enrolled_agent, finding, report

CATALOGUE = load_catalogue()


def _send(
    db: Session,
    agent: Agent,
    findings: list[Finding],
    *,
    kind: ReportKind = ReportKind.FULL,
) -> None:
    sent = report(findings, agent_id=agent.agent_uid)
    sent = WireReport(
        report_id=sent.report_id,
        agent=sent.agent,
        host=sent.host,
        generated_at=sent.generated_at,
        findings=sent.findings,
        kind=kind,
        health={"uptime": 5},
    )
    ingest_report(db, agent=agent, report=sent, catalogue=CATALOGUE)


def _row(db: Session, key: str) -> inventory.InventoryRow:
    (row,) = [row for row in inventory.list_inventory(db) if row.item.key == key]
    return row


def _exact_counts(db: Session, item_id: int) -> tuple[int, int, int]:
    """The figures counted the slow way, straight from the sightings."""
    hosts, users, sightings = db.execute(
        select(
            func.count(func.distinct(Sighting.host_id)),
            func.count(func.distinct(func.nullif(Sighting.user_name, ""))),
            func.count(),
        ).where(Sighting.item_id == item_id)
    ).one()
    return hosts, users, sightings


def test_roll_ups_match_a_full_count_and_carry_kinds_browsers_and_departments(
    db: Session,
) -> None:
    agents = [enrolled_agent(db, agent_uid=f"agent-{n:04d}")[0] for n in range(3)]
    hosts.update_host(db, host_id=agents[0].host_id, department="Finance")
    hosts.update_host(db, host_id=agents[1].host_id, department="Legal")
    for number, agent in enumerate(agents):
        _send(
            db,
            agent,
            [
                finding(user=f"user{number}"),
                finding(user="shared"),
                finding(
                    kind=FindingKind.BROWSER_EXTENSION,
                    indicator="chatgpt-ext",
                    indicator_kind="browser_extension",
                    evidence={"browser": "chrome" if number else "firefox"},
                ),
            ],
        )
    # A second report of the same state adds nothing.
    _send(db, agents[0], [finding(user="user0"), finding(user="shared")])

    row = _row(db, "svc:openai-chatgpt")
    assert (row.host_count, row.user_count, row.sighting_count) == _exact_counts(db, row.item.id)
    assert (row.host_count, row.user_count, row.sighting_count) == (3, 5, 9)
    assert row.evidence_kinds == ("browser_extension", "process")
    assert row.browsers == ("chrome", "firefox")
    assert row.departments == ("Finance", "Legal")


def test_a_hosts_item_count_is_the_number_of_items_it_shows(db: Session) -> None:
    agents = [enrolled_agent(db, agent_uid=f"agent-{n:04d}")[0] for n in range(3)]
    extension = finding(
        None,
        kind=FindingKind.BROWSER_EXTENSION,
        indicator="abcdefghijklmnopabcdefghijklmnop",
        indicator_kind="browser_extension",
        heuristic="host permission on an AI domain",
    )
    for number, agent in enumerate(agents):
        _send(db, agent, [finding(user=f"user{number}"), finding("anthropic-claude")][: number + 1])
    # Reports of the same state, a new user of a known item, a delta with a new item.
    _send(db, agents[0], [finding(user="user0"), finding(user="someone else")])
    _send(db, agents[1], [extension], kind=ReportKind.DELTA)
    _send(db, agents[2], [finding("anthropic-claude"), extension, finding("github-copilot")])
    _send(db, agents[2], [finding("anthropic-claude"), extension, finding("github-copilot")])

    exact = dict(
        db.execute(select(ItemHost.host_id, func.count()).group_by(ItemHost.host_id)).all()
    )
    kept = {host.id: host.item_count for host in db.scalars(select(Host)).all()}
    assert kept == exact == {agents[0].host_id: 1, agents[1].host_id: 3, agents[2].host_id: 4}


def test_an_items_process_names_and_domains_are_kept_as_facets(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    dns = finding(kind=FindingKind.DNS, indicator="chatgpt.com", indicator_kind="domain")
    _send(db, agent, [finding(), finding(indicator="chatgpt-helper"), dns])
    _send(db, agent, [dataclasses.replace(dns, user="bob")])  # a new sighting, same domain
    item_id = _row(db, "svc:openai-chatgpt").item.id
    processes = inventory.item_facet_values(db, item_id=item_id, facet="process", limit=1)
    assert processes == (["ChatGPT"], 2)  # the first of two, and how many there are
    domains = inventory.item_facet_values(db, item_id=item_id, facet="domain")
    assert domains == (["chatgpt.com"], 1)


def test_unknown_domains_group_by_registrable_domain(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(
        db,
        agent,
        [
            finding(None, kind=FindingKind.DNS, indicator=name, indicator_kind="domain")
            for name in ("api.newai.co.uk", "chat.newai.co.uk", "NEWAI.co.uk.")
        ]
        + [
            finding(None, kind=FindingKind.PACKAGE, indicator=name, indicator_kind="pypi")
            for name in ("Some_AI.Lib", "some-ai-lib")
        ],
    )
    keys = {row.item.key: row for row in inventory.list_inventory(db)}
    assert set(keys) == {"cand:domain:newai.co.uk", "cand:pypi:some-ai-lib"}
    assert keys["cand:domain:newai.co.uk"].sighting_count == 3
    assert keys["cand:domain:newai.co.uk"].item.name == "newai.co.uk"


def _govern(db: Session, key: str, decision: str, **decided: object) -> str:
    """Triage the item into a register entry of its own and decide it, through the services."""
    item = db.scalar(select(InventoryItem).where(InventoryItem.key == key))
    assert item is not None
    fields = EntryInput(
        title=f"{item.name} use",
        ai_system=item.name,
        business_owner="Dana",
        purpose="Drafting",
        risk_level="low",
    )
    entry = register_service.create_entry(db, actor="rita", fields=fields)
    triage_service.transition_item(db, actor="rita", item_id=item.id, target="triaging")
    triage_service.promote_item(
        db, actor="rita", item_id=item.id, existing_register_id=entry.register_id
    )
    register_service.decide_entry(
        db,
        actor="carol",
        register_id=entry.register_id,
        expected_version=entry.version,
        decision=decision,
        rationale="decided",
        **decided,  # type: ignore[arg-type]
    )
    return entry.register_id


def test_a_prohibited_item_seen_again_raises_one_violation_per_host_user_and_channel(
    db: Session,
) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [finding(), finding("anthropic-claude", indicator="Claude")])
    _govern(db, "svc:openai-chatgpt", "prohibited", alternative="Claude (AIR-approved)")
    _govern(db, "svc:anthropic-claude", "approved")
    assert _row(db, "svc:openai-chatgpt").violation_count == 0  # deciding records none

    later = T0 + dt.timedelta(days=1)
    for _ in range(2):
        _send(
            db,
            agent,
            [
                finding(seen=later),
                finding(user="bob", seen=later),
                finding(kind=FindingKind.DNS, indicator="chatgpt.com", seen=later),
                finding("anthropic-claude"),
            ],
        )

    chatgpt = _row(db, "svc:openai-chatgpt")
    assert chatgpt.item.state == "promoted" and chatgpt.item.governed_status == "prohibited"
    assert chatgpt.item.last_seen_at == later
    assert chatgpt.violation_count == 3 and chatgpt.item.last_violation_at is not None
    violations = inventory.list_violations(db, item_id=chatgpt.item.id)
    assert sorted((v.user_name, v.channel, v.reason) for v, _host in violations) == [
        ("alice", "dns", "prohibited"),
        ("alice", "process", "prohibited"),
        ("bob", "process", "prohibited"),
    ]
    claude = _row(db, "svc:anthropic-claude")
    assert claude.item.governed_status == "approved" and claude.violation_count == 0
    assert db.scalar(select(func.count()).select_from(Violation)) == 3
    # Each violation counts once on the day it was seen, however many reports repeat it.
    assert inventory.list_violation_trend(db, days=1) == [(utcnow().date(), 3)]


def test_a_restricted_item_is_a_violation_only_outside_its_departments(db: Session) -> None:
    finance, _ = enrolled_agent(db, agent_uid="agent-fin", hostname="fin-1")
    sales, _ = enrolled_agent(db, agent_uid="agent-sales", hostname="sales-1")
    hosts.update_host(db, host_id=finance.host_id, department="Finance")
    hosts.update_host(db, host_id=sales.host_id, department="Sales")
    _send(db, finance, [finding()])
    _govern(
        db,
        "svc:openai-chatgpt",
        "restricted",
        conditions="Finance only, no customer data",
        allowed_departments=["finance", " "],
    )
    _send(db, finance, [finding(user="fiona")])
    _send(db, sales, [finding(user="sam")])

    item = _row(db, "svc:openai-chatgpt")
    assert item.item.governed_status == "restricted" and item.violation_count == 1
    ((violation, host),) = inventory.list_violations(db, item_id=item.item.id)
    assert host.id == sales.host_id and violation.user_name == "sam"
    assert (violation.reason, violation.department) == ("outside_conditions", "Sales")


def test_a_re_review_stops_violations_and_every_linked_item_follows(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [finding(), finding(None, indicator="gpt-helper", heuristic="test")])
    register_id = _govern(db, "svc:openai-chatgpt", "prohibited")
    candidate = db.scalar(select(InventoryItem).where(InventoryItem.key.like("cand:%")))
    assert candidate is not None and candidate.governed_status == ""
    triage_service.transition_item(db, actor="rita", item_id=candidate.id, target="triaging")
    triage_service.promote_item(
        db, actor="rita", item_id=candidate.id, existing_register_id=register_id
    )
    assert _row(db, candidate.key).item.governed_status == "prohibited"  # linked: it follows
    entry = register.get_register_entry(db, register_id=register_id)
    register_service.move_entry(
        db,
        actor="carol",
        register_id=register_id,
        expected_version=entry.version,
        target="under_review",
        reason="new evidence",
    )
    statuses = {row.item.key: row.item.governed_status for row in inventory.list_inventory(db)}
    assert statuses == {"svc:openai-chatgpt": "under_review", candidate.key: "under_review"}
    _send(db, agent, [finding(user="zoe"), finding(None, indicator="gpt-helper", heuristic="t")])
    assert db.scalar(select(func.count()).select_from(Violation)) == 0


def test_trend_counts_each_host_once_per_day(db: Session) -> None:
    first, _ = enrolled_agent(db, agent_uid="agent-0001")
    second, _ = enrolled_agent(db, agent_uid="agent-0002")
    _send(db, first, [finding()])
    _send(db, first, [finding()])
    _send(db, second, [finding()])
    today = utcnow().date()
    item_id = _row(db, "svc:openai-chatgpt").item.id
    assert inventory.list_item_trend(db, item_id=item_id, days=2) == [
        (today - dt.timedelta(days=1), 0),
        (today, 2),
    ]
    # The host was last counted yesterday: today's report counts it for today, once.
    db.execute(
        update(ItemHost)
        .where(ItemHost.host_id == first.host_id)
        .values(first_day=today - dt.timedelta(days=3), last_day=today - dt.timedelta(days=1))
    )
    db.execute(update(InventoryItem).where(InventoryItem.id == item_id).values(host_count=2))
    _send(db, first, [finding()])
    assert inventory.list_item_trend(db, item_id=item_id, days=1) == [(today, 3)]
    assert _row(db, "svc:openai-chatgpt").host_count == 2  # not a new host


def test_a_heartbeat_only_touches_the_host(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [], kind=ReportKind.HEARTBEAT)
    host = db.get(Host, agent.host_id)
    assert host is not None
    db.refresh(host)
    assert host.last_report_at is not None and host.health == {"uptime": 5}
    assert db.scalar(select(func.count()).select_from(Report)) == 0

    with pytest.raises(ReportRejected, match="heartbeat"):
        _send(db, agent, [finding()], kind=ReportKind.HEARTBEAT)
    assert db.scalar(select(func.count()).select_from(Sighting)) == 0


def test_a_delta_adds_to_what_a_full_report_stored(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [finding()])
    _send(db, agent, [finding("anthropic-claude", indicator="Claude")], kind=ReportKind.DELTA)
    assert {row.item.key for row in inventory.list_inventory(db)} == {
        "svc:openai-chatgpt",
        "svc:anthropic-claude",
    }
    assert db.scalar(select(func.count()).select_from(Sighting)) == 2


def test_prune_removes_old_sightings_and_reports_but_keeps_roll_ups(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    old = utcnow() - dt.timedelta(days=400)
    _send(db, agent, [finding(seen=old), finding(user="bob")])
    db.execute(update(Report).values(received_at=old))

    result = retention.prune(db, older_than=dt.timedelta(days=180))

    assert (result.sightings, result.reports) == (1, 1)
    row = _row(db, "svc:openai-chatgpt")
    assert (row.host_count, row.user_count, row.sighting_count) == (1, 2, 1)
    assert row.item.first_seen_at == old
    assert [s.user_name for s in db.scalars(select(Sighting))] == ["bob"]
    # A pruned sighting that comes back is a sighting again, not a new host.
    _send(db, agent, [finding()])
    row = _row(db, "svc:openai-chatgpt")
    assert (row.host_count, row.sighting_count) == (1, 2)


def test_host_detail_and_department(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [finding(), finding("anthropic-claude", indicator="Claude")])
    host = hosts.update_host(db, host_id=agent.host_id, department="  R&D ")
    assert host.department == "R&D"
    row = hosts.get_host_row(db, host_id=agent.host_id, stale_after=dt.timedelta(hours=1))
    assert row.item_count == 2 and not row.stale
    found = inventory.list_host_sightings(db, host_id=agent.host_id)
    assert sorted(item.key for _sighting, item in found) == [
        "svc:anthropic-claude",
        "svc:openai-chatgpt",
    ]
    with pytest.raises(NotFound):
        hosts.get_host_row(db, host_id=987654, stale_after=dt.timedelta(hours=1))


def test_unchanged_state_refreshes_last_seen_at_most_hourly(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    _send(db, agent, [finding(seen=T0)])
    _send(db, agent, [finding(seen=T0 + dt.timedelta(minutes=15))])
    sighting = db.scalars(select(Sighting)).one()
    assert sighting.last_seen_at == T0  # within the refresh interval: nothing written

    _send(db, agent, [finding(seen=T0 + dt.timedelta(hours=2))])
    db.refresh(sighting)
    assert sighting.last_seen_at == T0 + dt.timedelta(hours=2)
    row = _row(db, "svc:openai-chatgpt")
    assert row.item.last_seen_at == T0 + dt.timedelta(hours=2)
    assert (row.host_count, row.sighting_count) == (1, 1)


def test_unchanged_sightings_still_roll_up_a_new_department_and_browser(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    extension = {
        "kind": FindingKind.BROWSER_EXTENSION,
        "indicator": "chatgpt-ext",
        "indicator_kind": "browser_extension",
    }
    _send(db, agent, [finding(), finding(**extension, evidence={"browser": "chrome"})])
    hosts.update_host(db, host_id=agent.host_id, department="Finance")
    # The same sightings again, within the refresh interval: nothing about them is rewritten.
    _send(db, agent, [finding(), finding(**extension, evidence={"browser": "edge"})])

    row = _row(db, "svc:openai-chatgpt")
    assert row.departments == ("Finance",)
    assert row.browsers == ("chrome", "edge")
    assert row.evidence_kinds == ("browser_extension", "process")
    assert (row.host_count, row.user_count, row.sighting_count) == _exact_counts(db, row.item.id)
