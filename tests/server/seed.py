"""Test data for the server's tests, made through the product's own paths only: agent reports
through ingest (or over HTTP), entries and decisions through the register service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.db import transaction
from collector.ingest import ingest_report
from collector.store import users
from collector.store.agents import Agent
from collector.store.audit import AuditEvent
from collector.store.inventory import InventoryItem
from server.inventory import service as triage
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import Finding, load_catalogue
from tests.factories import enrolled_agent, finding, report
from tests.server.conftest import enroll, sign_in

CATALOGUE = load_catalogue()
HOSTILE = "<script>alert('x')</script>"


def ingest_items(
    db: Session, *findings: Finding, host: str = "laptop-1", uid: str = "agent-1"
) -> dict[str, int]:
    """Ingest one report of ``findings`` from a host (enrolling its agent the first time);
    return every item's id by name."""
    agent = db.scalar(select(Agent).where(Agent.agent_uid == uid))
    if agent is None:
        agent, _ = enrolled_agent(db, agent_uid=uid, hostname=host)
    ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report(list(findings), agent_id=uid, hostname=host),
    )
    return {item.name: item.id for item in db.scalars(select(InventoryItem))}


def make_reviewer(db: Session, name: str = "rita", role: str = "reviewer") -> str:
    users.create_user(db, username=name, password_hash="x", role=role)
    return name


def ready_entry(db: Session, **overrides: object) -> str:
    """Create a register entry that passes the approval guards; return its register id."""
    fields = {
        "title": "ChatGPT drafting",
        "ai_system": "ChatGPT",
        "business_owner": "Dana",
        "purpose": "Drafting",
        "risk_level": "low",
        **overrides,
    }
    entry = register_service.create_entry(
        db, actor="rita", fields=EntryInput.model_validate(fields)
    )
    return entry.register_id


def audit_actions(db: Session) -> list[str]:
    return [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def approvable(title: str, supplier: str = "") -> EntryInput:
    return EntryInput(
        title=title,
        ai_system=title,
        supplier=supplier,
        business_owner="Bob",
        purpose="Drafting",
        risk_level="low",
    )


def decided(app: FastAPI, title: str, *, on: dt.date, supplier: str = "") -> str:
    """Create an entry and approve it on ``on`` (its review falls due 12 months later)."""
    with transaction(app.state.shadowmap.sessions) as session:
        entry = register_service.create_entry(
            session, actor="alice", fields=approvable(title, supplier)
        )
        register_service.decide_entry(
            session,
            actor="carol",
            register_id=entry.register_id,
            expected_version=entry.version,
            decision="approved",
            rationale="fine",
            today=on,
        )
        return entry.register_id


def seed_over_http(client: TestClient, app: FastAPI) -> dict[str, int]:
    """An agent reports ChatGPT and a hostile unknown name over HTTP; return item ids by name."""
    credential = enroll(client, app, hostname="fin-laptop-7")
    answer = client.post(
        "/api/v1/agents/reports",
        content=report(
            [finding("openai-chatgpt"), finding(None, indicator=HOSTILE, heuristic="test")],
            hostname="fin-laptop-7",
        ).to_json(),
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert answer.status_code == 200, answer.text
    sign_in(client, "viewer")
    items = {row["name"]: row["id"] for row in client.get("/api/v1/inventory").json()}
    client.cookies.clear()
    return items


def unknowns(*indicators: str) -> list[Finding]:
    """Findings of unknown candidates: each indicator becomes an inventory item of its own."""
    return [finding(None, indicator=indicator, heuristic="test") for indicator in indicators]


def post_report(
    client: TestClient, credential: str, findings: list[Finding], *, hostname: str = "laptop-1"
) -> dict[str, Any]:
    """Send one agent report over HTTP (the agent's own path); return the ingest answer."""
    answer = client.post(
        "/api/v1/agents/reports",
        content=report(findings, hostname=hostname).to_json(),
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def decided_entry(
    db: Session, decision: str, *, on: dt.date, item: str = "ChatGPT", **owners: str
) -> str:
    """Ingest ChatGPT and Claude, promote ``item`` into an entry, fill its record and decide it
    on the day ``on`` (its last review), all through the triage and register services; return
    the entry's register id."""
    items = ingest_items(db, finding("openai-chatgpt"), finding("anthropic-claude", indicator="c"))
    triage.transition_item(db, actor="rita", item_id=items[item], target="triaging")
    entry = triage.promote_item(db, actor="rita", item_id=items[item])
    fields = {
        "title": f"{item} use",
        "ai_system": item,
        "purpose": "Drafting",
        "business_owner": "Dana",
        "risk_level": "low",
        **owners,
    }
    entry = register_service.update_entry(
        db,
        actor="rita",
        register_id=entry.register_id,
        expected_version=entry.version,
        fields=EntryInput.model_validate(fields),
    )
    register_service.decide_entry(
        db,
        actor="carol",
        register_id=entry.register_id,
        expected_version=entry.version,
        decision=decision,
        rationale="fine",
        conditions="no customer data" if decision == "restricted" else "",
        today=on,
    )
    return entry.register_id
