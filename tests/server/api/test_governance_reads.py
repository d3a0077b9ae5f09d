"""Governance reads: the audit trail, due reviews and suppliers over the API, and the raw
sightings behind an inventory item."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.ingest import ingest_report
from collector.store import audit as audit_store
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from server.app import create_app
from server.config import ServerSettings
from server.register import service
from server.register.schemas import EntryInput
from tests.factories import enrolled_agent, finding, report
from tests.server.api.conftest import bearer, make_token

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


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
        entry = service.create_entry(session, actor="alice", fields=approvable(title, supplier))
        service.decide_entry(
            session,
            actor="carol",
            register_id=entry.register_id,
            expected_version=entry.version,
            decision="approved",
            rationale="fine",
            today=on,
        )
        return entry.register_id


def test_audit_trail_filters_pages_and_carries_each_hash_link(
    client: TestClient, app: FastAPI
) -> None:
    first = decided(app, "ChatGPT", on=dt.date(2026, 1, 5))
    second = decided(app, "Copilot", on=dt.date(2026, 1, 5))
    token = make_token(app, ["register:read"])

    def audit(**params: object) -> list[dict[str, object]]:
        answer = client.get("/api/v1/audit", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        events: list[dict[str, object]] = answer.json()
        return events

    everything = audit()
    assert [event["action"] for event in everything] == [
        "entry.approved",
        "entry.create",
        "entry.approved",
        "entry.create",
    ]
    # Newest first; each event's prev_hash is the hash of the one before it in the chain.
    for newer, older in itertools.pairwise(everything):
        assert newer["prev_hash"] == older["hash"]
    for event in everything:
        payload = {key: event[key] for key in ("actor", "action", "object_type", "object_id")}
        payload |= {"before": event["before"], "after": event["after"]}
        payload["at"] = dt.datetime.fromisoformat(str(event["at"])).astimezone(dt.UTC).isoformat()
        assert audit_store.event_hash(str(event["prev_hash"]), payload) == event["hash"]

    assert {event["object_id"] for event in audit(object_id=first)} == {first}
    assert [event["object_id"] for event in audit(actor="carol")] == [second, first]
    assert [event["object_id"] for event in audit(action="entry.create", limit=1)] == [second]
    assert [event["object_id"] for event in audit(action="entry.create", offset=1)] == [first]
    assert audit(since=(utcnow() + dt.timedelta(minutes=1)).isoformat()) == []
    assert len(audit(object_type="entry", since=T0.replace(year=2020).isoformat())) == 4
    assert audit(object_type="user") == []
    refused = client.get("/api/v1/audit", headers=bearer(make_token(app, ["inventory:read"])))
    assert refused.status_code == 403
    bad = client.get("/api/v1/audit", params={"object_type": "x"}, headers=bearer(token))
    assert bad.status_code == 422


def test_reviews_lists_overdue_and_due_entries(client: TestClient, app: FastAPI) -> None:
    today = utcnow().date()
    overdue = decided(app, "Old tool", on=today - dt.timedelta(days=400))
    fresh = decided(app, "New tool", on=today)
    with transaction(app.state.shadowmap.sessions) as session:
        service.create_entry(session, actor="a", fields=approvable("Ungoverned"))
    token = make_token(app, ["register:read"])

    def reviews(**params: object) -> list[dict[str, object]]:
        answer = client.get("/api/v1/reviews", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, object]] = answer.json()
        return rows

    due = reviews()
    assert [(row["register_id"], row["overdue"]) for row in due] == [(overdue, True)]
    assert isinstance(due[0]["days_until_review"], int) and due[0]["days_until_review"] < 0
    within_a_year = reviews(due_within_days=366)
    assert [row["register_id"] for row in within_a_year] == [overdue, fresh]
    assert [row["register_id"] for row in reviews(due_within_days=366, overdue=False)] == [fresh]
    too_far = client.get("/api/v1/reviews", params={"due_within_days": 9999}, headers=bearer(token))
    assert too_far.status_code == 422


def test_suppliers_join_the_register_and_the_inventory(client: TestClient, app: FastAPI) -> None:
    decided(app, "ChatGPT", on=dt.date(2026, 1, 5), supplier="OpenAI")
    with transaction(app.state.shadowmap.sessions) as session:
        for key, vendor in (("a", "openai"), ("b", "OpenAI"), ("c", "Anthropic"), ("d", "")):
            session.add(
                InventoryItem(key=key, name=key, vendor=vendor, first_seen_at=T0, last_seen_at=T0)
            )
    both = make_token(app, ["register:read", "inventory:read"])
    answer = client.get("/api/v1/suppliers", headers=bearer(both))
    assert answer.status_code == 200, answer.text
    suppliers = {row["name"]: row for row in answer.json()}
    assert set(suppliers) == {"OpenAI", "Anthropic"}
    assert suppliers["OpenAI"]["register_entries"] == 1
    assert suppliers["OpenAI"]["supplier_review"] == "not_started"
    assert suppliers["OpenAI"]["inventory_items"] == 2
    assert suppliers["Anthropic"] == {
        "name": "Anthropic",
        "supplier_review": None,
        "register_entries": 0,
        "register_ids": [],
        "inventory_items": 1,
    }
    register_only = make_token(app, ["register:read"])
    refused = client.get("/api/v1/suppliers", headers=bearer(register_only))
    assert refused.status_code == 403 and "inventory:read" in refused.text


@pytest.mark.parametrize("pseudonym_key", [None, "k" * 32])
def test_sightings_of_an_item_page_and_respect_pseudonyms(
    tmp_path: Path, pseudonym_key: str | None
) -> None:
    settings = ServerSettings(
        data_dir=tmp_path, scheduler_enabled=False, user_pseudonym_key=pseudonym_key
    )
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    app = create_app(settings)
    with transaction(make_sessionmaker(engine)) as session:
        agent, _credential = enrolled_agent(session)
        wire = report(
            [
                finding("openai-chatgpt", user="alice"),
                finding("openai-chatgpt", indicator="chatgpt.com", indicator_kind="domain"),
            ]
        )
        ingest_report(session, agent=agent, report=wire, catalogue=app.state.shadowmap.catalogue)
    engine.dispose()
    token = make_token(app, ["inventory:read"])
    with TestClient(app) as client:
        item_id = client.get("/api/v1/inventory", headers=bearer(token)).json()[0]["id"]
        url = f"/api/v1/inventory/{item_id}/sightings"
        sightings = client.get(url, headers=bearer(token)).json()
        assert len(sightings) == 2
        assert {s["indicator"] for s in sightings} == {"ChatGPT", "chatgpt.com"}
        assert sightings[0]["hostname"] == "laptop-1"
        users = {s["user"] for s in sightings}
        if pseudonym_key is None:
            assert users == {"alice"}
        else:
            assert len(users) == 1 and users.pop().startswith("user-")
        page = client.get(url, params={"limit": 1, "offset": 1}, headers=bearer(token)).json()
        assert page == sightings[1:]
        missing = client.get("/api/v1/inventory/999999/sightings", headers=bearer(token))
        assert missing.status_code == 404
        hosts_only = make_token(app, ["hosts:read"])
        assert client.get(url, headers=bearer(hosts_only)).status_code == 403
    app.state.shadowmap.engine.dispose()
