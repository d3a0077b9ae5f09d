"""Triage services on SQLite and PostgreSQL: assignment, suppression, merge, promotion, bulk."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from collector.store import triage
from collector.store.inventory import InventoryItem
from server.errors import GuardFailed, InvalidTransition
from server.inventory import service
from signatures import load_catalogue
from tests.factories import finding
from tests.server.seed import audit_actions, ingest_items, make_reviewer

CATALOGUE = load_catalogue()


def test_assigning_a_new_item_starts_triage_and_is_audited(db: Session) -> None:
    items = ingest_items(db, finding("openai-chatgpt"))
    make_reviewer(db)
    item = service.assign_item(db, actor="rita", item_id=items["ChatGPT"], assignee="rita")
    assert item.state == "triaging"
    with pytest.raises(GuardFailed) as raised:
        service.assign_item(db, actor="rita", item_id=items["ChatGPT"], assignee="nobody")
    assert raised.value.field == "assignee"
    assert audit_actions(db) == ["item.assign"]


def test_false_positive_suppresses_the_key_and_reopening_lifts_it(db: Session) -> None:
    items = ingest_items(db, finding(None, indicator="weird.ext", heuristic="name"))
    item_id = next(iter(items.values()))
    key = db.get(InventoryItem, item_id).key  # type: ignore[union-attr]
    with pytest.raises(GuardFailed):
        service.transition_item(db, actor="rita", item_id=item_id, target="false_positive")
    service.transition_item(
        db, actor="rita", item_id=item_id, target="false_positive", reason="an internal tool"
    )
    assert [rule.item_key for rule in triage.list_suppression_rules(db)] == [key]
    assert triage.list_triage_queue(db, states=["new", "triaging"]) == []
    with pytest.raises(InvalidTransition):
        service.transition_item(db, actor="rita", item_id=item_id, target="needs_info", reason="x")
    service.transition_item(db, actor="rita", item_id=item_id, target="triaging")
    assert list(triage.list_suppression_rules(db)) == []
    assert audit_actions(db) == [
        "suppression.create",
        "item.false_positive",
        "suppression.delete",
        "item.triaging",
    ]


def test_merge_and_promote(db: Session) -> None:
    items = ingest_items(db, finding("openai-chatgpt"), finding("openai-api", indicator="openai"))
    chatgpt, api = items["ChatGPT"], next(i for n, i in items.items() if n != "ChatGPT")
    with pytest.raises(InvalidTransition):  # a new item is triaged before it is promoted
        service.promote_item(db, actor="rita", item_id=chatgpt)
    service.transition_item(db, actor="rita", item_id=chatgpt, target="triaging")
    entry = service.promote_item(db, actor="rita", item_id=chatgpt, business_unit="Finance")
    assert entry.status == "under_review" and entry.business_unit == "Finance"
    assert entry.supplier == "OpenAI" and entry.register_id.endswith("-0001")
    with pytest.raises(GuardFailed):
        service.merge_item(db, actor="rita", item_id=api, into_item_id=api)
    service.merge_item(db, actor="rita", item_id=api, into_item_id=chatgpt)
    assert [i.id for i in triage.list_items_of_entry(db, entry_id=entry.id)] == sorted(
        [chatgpt, api],
        key=lambda i: db.get(InventoryItem, i).name,  # type: ignore[union-attr]
    )


def test_bulk_checks_the_action_and_applies_each_item_once(db: Session) -> None:
    items = ingest_items(
        db, finding("openai-chatgpt"), finding("anthropic-claude", indicator="claude")
    )
    with pytest.raises(GuardFailed):
        service.bulk_triage(db, actor="rita", item_ids=list(items.values()), action="delete")
    with pytest.raises(GuardFailed):
        service.bulk_triage(db, actor="rita", item_ids=[], action="triaging")
    assert (
        service.bulk_triage(db, actor="rita", item_ids=list(items.values()) * 2, action="triaging")
        == 2
    )
