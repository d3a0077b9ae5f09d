"""Realistic discovery data for report tests and the sample report in docs/: 30 hosts over
eight weeks, approved, unreviewed and prohibited services, and hosts that went quiet."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.ingest import ingest_report
from collector.store.hosts import Host
from collector.store.inventory import InventoryItem
from signatures import Catalogue, Confidence, Finding, FindingKind
from tests.factories import enrolled_agent, report

# (service id or None for an unknown candidate, weeks ago it first appeared, share of hosts,
#  triage state, indicator for unknown ones)
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
    for number, hostname in enumerate(names):
        agent, _credential = enrolled_agent(
            session, agent_uid=f"agent-{number + 1:05d}", hostname=hostname
        )
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
    states = {service_id: state for service_id, _w, _s, state, _i in SERVICES if service_id}
    counts: dict[str, int] = {}
    for item in session.scalars(select(InventoryItem)):
        item.state = states.get(item.service_id or "", "new")
        counts[item.state] = counts.get(item.state, 0) + 1
    for host in session.scalars(select(Host).order_by(Host.id)).all()[-3:]:
        host.last_report_at = now - dt.timedelta(days=5)
    for host in session.scalars(select(Host).order_by(Host.id)).all()[:-3]:
        host.last_report_at = now - dt.timedelta(minutes=20)
    session.flush()
    return counts
