"""Reviews and suppliers over the API: due and overdue entries, and the register's suppliers
joined with the inventory's vendors."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from server.register import service
from tests.server.conftest import bearer, make_token
from tests.server.seed import approvable, decided

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


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
