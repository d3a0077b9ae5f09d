"""A register to enforce, made through the product's paths: an agent reports over HTTP, items
are triaged and promoted, entries decided through the register service."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.db import transaction
from collector.store.inventory import InventoryItem
from server.inventory import service as triage_service
from server.register import service as register_service
from server.register.schemas import EntryInput
from signatures import FindingKind
from tests.factories import finding
from tests.server.conftest import enroll
from tests.server.seed import post_report

MONICA = "ofpnmcalabcbjgholdjcjblkibolbppb"  # catalogued AI sidebar extension, approved here
CHATGPT_EXTENSION = "ejcfepkfckglbgocfkanmcdngdijcgld"  # prohibited with ChatGPT
ALTERNATIVE = "AIR-2026-0099 Copilot for Microsoft 365"


def decide(app: FastAPI, item_key: str, decision: str, *, alternative: str = "") -> str:
    """Triage one item into an entry of its own and record the decision; return its id."""
    with transaction(app.state.shadowmap.sessions) as session:
        item = session.scalar(select(InventoryItem).where(InventoryItem.key == item_key))
        assert item is not None, item_key
        fields = EntryInput(
            title=f"{item.name} use",
            ai_system=item.name,
            business_owner="Dana",
            purpose="General use",
            risk_level="low",
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
            rationale="decided for the test",
            alternative=alternative,
        )
        return entry.register_id


def seed_register(client: TestClient, app: FastAPI) -> None:
    """ChatGPT, GitHub Copilot and an unknown AI domain prohibited; Monica approved."""
    credential = enroll(client, app, hostname="dev-1")
    post_report(
        client,
        credential,
        [
            finding("openai-chatgpt"),
            finding("github-copilot", indicator="copilot"),
            finding("monica", kind=FindingKind.BROWSER_EXTENSION, indicator=MONICA),
            finding(
                None,
                kind=FindingKind.DNS,
                indicator="api.llm-newco.io",
                indicator_kind="domain",
                heuristic="dns-name-token:llm",
            ),
        ],
        hostname="dev-1",
    )
    decide(app, "svc:openai-chatgpt", "prohibited", alternative=ALTERNATIVE)
    decide(app, "svc:github-copilot", "prohibited", alternative=ALTERNATIVE)
    decide(app, "svc:monica", "approved")
    with transaction(app.state.shadowmap.sessions) as session:
        candidate = session.scalar(
            select(InventoryItem.key).where(InventoryItem.key.like("cand:%"))
        )
    assert candidate is not None
    decide(app, candidate, "prohibited")
