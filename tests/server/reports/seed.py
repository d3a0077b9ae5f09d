"""Realistic discovery data for report tests and the sample report in docs/: 30 hosts over
eight weeks, approved, unreviewed and prohibited services (decided in the register, through
its service functions), a prohibited one reported again, and hosts that went quiet."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import ingest_report
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem
from server.inventory import service as triage_service
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import Catalogue, Confidence, Finding, FindingKind
from tests.factories import enrolled_agent, report

# (service id or None for an unknown candidate, weeks ago it first appeared, share of hosts,
#  register decision or "new" for an untriaged item, indicator for unknown ones)
SERVICES: tuple[tuple[str | None, int, float, str, str], ...] = (
    ("openai-chatgpt", 8, 0.7, "approved", ""),
    ("microsoft-copilot", 8, 0.5, "approved", ""),
    ("github-copilot", 7, 0.3, "approved", ""),
    ("anthropic-claude", 6, 0.35, "new", ""),
    ("google-gemini", 5, 0.2, "new", ""),
    ("perplexity", 4, 0.15, "new", ""),
    ("deepseek", 3, 0.1, "prohibited", ""),
    ("ollama", 3, 0.1, "new", ""),
    ("cursor", 2, 0.15, "new", ""),
    ("mistral-le-chat", 1, 0.07, "new", ""),
    ("anthropic-claude-code", 0, 0.1, "new", ""),
    ("openai-codex-cli", 0, 0.07, "new", ""),
    (None, 0, 0.05, "new", "ai-notes-helper"),
)
DEPARTMENTS = ("fin", "eng", "hr", "mkt", "ops", "legal")


def seed_discovery(
    session: Session, catalogue: Catalogue, *, now: dt.datetime, hosts: int = 30, seed: int = 7
) -> dict[str, int]:
    """Ingest eight weeks of sightings; return how many services sit in each state."""
    rng = random.Random(seed)
    names = [f"{DEPARTMENTS[n % len(DEPARTMENTS)]}-lt-{n + 1:03d}" for n in range(hosts)]
    agents = []
    for number, hostname in enumerate(names):
        agent, _credential = enrolled_agent(
            session, agent_uid=f"agent-{number + 1:05d}", hostname=hostname
        )
        agents.append(agent)
        findings = []
        for service_id, weeks_ago, share, _state, indicator in SERVICES:
            if rng.random() > share and number != 0:
                continue
            # Hosts adopt a service gradually after it first appears.
            days = weeks_ago * 7 * rng.random() ** 0.7 if weeks_ago else rng.uniform(0.2, 5)
            if number == 0 and weeks_ago:
                days = weeks_ago * 7 - 0.5
            first = now - dt.timedelta(days=days)
            last = max(first, now - dt.timedelta(hours=rng.uniform(1, 30)))
            findings.append(
                Finding(
                    kind=FindingKind.PROCESS,
                    indicator=indicator or service_id or "",
                    indicator_kind="process",
                    service_id=service_id,
                    confidence=Confidence.HIGH if service_id else Confidence.LOW,
                    heuristic="llm-ish process name" if service_id is None else None,
                    user=f"user{number + 1:03d}",
                    evidence={"pid": 1000 + number},
                    first_seen=first,
                    last_seen=last,
                )
            )
        ingest_report(
            session,
            agent=agent,
            report=report(findings, agent_id=agent.agent_uid, hostname=hostname),
            catalogue=catalogue,
        )
    decisions = {service_id: state for service_id, _w, _s, state, _i in SERVICES if service_id}
    counts: dict[str, int] = {}
    for item in session.scalars(select(InventoryItem).order_by(InventoryItem.id)).all():
        decision = decisions.get(item.service_id or "", "new")
        if decision != "new":
            _decide(session, item, decision, now=now)
        counts[decision] = counts.get(decision, 0) + 1
    # The first host (which runs every service) reports a prohibited one again: a violation.
    again = [
        Finding(
            kind=FindingKind.PROCESS,
            indicator=service_id or "",
            indicator_kind="process",
            service_id=service_id,
            confidence=Confidence.HIGH,
            user="user001",
            evidence={"pid": 4242},
            first_seen=now - dt.timedelta(hours=2),
            last_seen=now - dt.timedelta(minutes=30),
        )
        for service_id, decision in decisions.items()
        if decision == "prohibited"
    ]
    ingest_report(
        session,
        agent=agents[0],
        report=report(again, agent_id=agents[0].agent_uid, hostname=names[0]),
        catalogue=catalogue,
    )
    for host in session.scalars(select(Host).order_by(Host.id)).all()[-3:]:
        host.last_report_at = now - dt.timedelta(days=5)
    for host in session.scalars(select(Host).order_by(Host.id)).all()[:-3]:
        host.last_report_at = now - dt.timedelta(minutes=20)
    session.flush()
    return counts


def _decide(session: Session, item: InventoryItem, decision: str, *, now: dt.datetime) -> None:
    """Triage an item into a register entry of its own and record the register's decision."""
    fields = EntryInput(
        title=f"{item.name} use",
        ai_system=item.name,
        business_owner="Dana",
        purpose="General use",
        risk_level="low" if decision == "approved" else "high",
    )
    entry = register_service.create_entry(session, actor="rita", fields=fields)
    triage_service.transition_item(session, actor="rita", item_id=item.id, target="triaging")
    triage_service.promote_item(
        session, actor="rita", item_id=item.id, existing_register_id=entry.register_id
    )
    register_service.decide_entry(
        session,
        actor="carol",
        register_id=entry.register_id,
        expected_version=entry.version,
        decision=decision,
        rationale="seeded decision",
        today=(now - dt.timedelta(days=1)).date(),
    )
