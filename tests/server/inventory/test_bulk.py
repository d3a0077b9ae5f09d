"""Bulk triage on SQLite and PostgreSQL: the same states, suppression rules and audit events as
the single actions item by item, in statements that do not grow with the items, and nothing
kept when one item fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.errors import NotFound
from collector.store import audit, triage
from collector.store.audit import AuditEvent
from collector.store.inventory import InventoryItem
from collector.store.triage import SuppressionRule, TriageRecord
from server.errors import GuardFailed, InvalidTransition
from server.inventory import service, states
from tests.factories import finding, sent_statements
from tests.server.seed import ingest_items, make_reviewer

ITEMS = 300


def _candidates(db: Session, count: int, prefix: str) -> list[int]:
    """Ingest ``count`` unknown candidates from one host; return their item ids in order."""
    found = ingest_items(
        db,
        *(finding(None, indicator=f"{prefix}-{n:04d}", heuristic="name") for n in range(count)),
        host=f"{prefix}-laptop",
        uid=f"{prefix}-agent",
    )
    return [found[f"{prefix}-{n:04d}"] for n in range(count)]


def _audit_mark(db: Session) -> int:
    return db.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))) or 0


def _events_since(db: Session, mark: int, ids: list[int]) -> list[tuple[Any, ...]]:
    """The audit events after ``mark``, their item ids and keys replaced by the item's place in
    ``ids`` (so that two sets of items triaged alike give equal lists)."""
    place = {str(item_id): n for n, item_id in enumerate(ids)}
    for key, item_id in db.execute(select(InventoryItem.key, InventoryItem.id)):
        if str(item_id) in place:
            place[key] = place[str(item_id)]
    events = db.scalars(select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id))
    return [
        (e.actor, e.action, e.object_type, place[e.object_id], e.before, e.after) for e in events
    ]


def _triage_of(db: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    """Each item's state, assignee, reason and suppression rule, in the order of ``ids``."""
    query = (
        select(
            InventoryItem.id,
            InventoryItem.state,
            TriageRecord.assignee_id,  # None, and the reason too, until it is first triaged
            TriageRecord.reason,
            SuppressionRule.reason,
            SuppressionRule.created_by,
        )
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id, isouter=True)
        .join(SuppressionRule, SuppressionRule.item_key == InventoryItem.key, isouter=True)
        .where(InventoryItem.id.in_(ids))
    )
    found = {row[0]: tuple(row[1:]) for row in db.execute(query)}
    return [found[item_id] for item_id in ids]


@pytest.mark.slow  # 2,400 single actions to compare with
def test_a_bulk_action_leaves_what_the_single_actions_leave_item_by_item(db: Session) -> None:
    make_reviewer(db, "rita")
    make_reviewer(db, "sam")
    bulk_ids, single_ids = _candidates(db, ITEMS, "bulk"), _candidates(db, ITEMS, "single")
    # The same mix of states on both sets, through the single actions.
    for n, pair in enumerate(zip(bulk_ids, single_ids, strict=True)):
        for item_id in pair:
            if n % 3 == 1:
                service.transition_item(db, actor="rita", item_id=item_id, target="triaging")
            if n % 5 == 2:
                service.assign_item(db, actor="rita", item_id=item_id, assignee="sam")
            if n % 7 == 3:
                service.transition_item(
                    db, actor="rita", item_id=item_id, target="out_of_scope", reason="old"
                )
    assert _triage_of(db, bulk_ids) == _triage_of(db, single_ids)
    steps = (
        ("assign_to_me", ""),
        ("needs_info", " who uses it? "),
        ("false_positive", "a build tool, not an AI service"),
        ("triaging", ""),
        ("out_of_scope", "lab machines"),
        ("triaging", ""),
        ("false_positive", "x" * 5000),  # kept to 4,000 characters
        ("triaging", ""),
    )
    for action, reason in steps:
        target = states.TRIAGING if action == "assign_to_me" else action
        chosen = [
            n
            for n, (state, *_rest) in enumerate(_triage_of(db, bulk_ids))
            if action == "assign_to_me" or target in states.TRIAGE_TRANSITIONS[state]
        ]
        assert len(chosen) > ITEMS // 4, action  # every step moves many items
        mark = _audit_mark(db)
        selected = [bulk_ids[n] for n in chosen]
        changed = service.bulk_triage(
            db, actor="rita", item_ids=selected + selected[:7], action=action, reason=reason
        )
        assert changed == len(chosen)
        bulk_events = _events_since(db, mark, bulk_ids)
        mark = _audit_mark(db)
        for n in chosen:
            if action == "assign_to_me":
                service.assign_item(db, actor="rita", item_id=single_ids[n], assignee="rita")
            else:
                service.transition_item(
                    db, actor="rita", item_id=single_ids[n], target=action, reason=reason
                )
        assert bulk_events == _events_since(db, mark, single_ids), action
        assert len(bulk_events) >= len(chosen)
        assert _triage_of(db, bulk_ids) == _triage_of(db, single_ids), action
    verdict = audit.verify_audit_chain(db)
    assert verdict.ok, verdict.reason
    assert verdict.checked == db.scalar(select(func.count()).select_from(AuditEvent))


def test_the_statements_of_a_bulk_action_do_not_grow_with_its_items(db: Session) -> None:
    make_reviewer(db, "rita")
    few, many = _candidates(db, 10, "few"), _candidates(db, ITEMS, "many")
    audit.lock_audit_chain(db)  # taken once per transaction: by the first bulk action otherwise
    # (False positive is left out: SQLite is sent one INSERT per new suppression rule.)
    for action, reason in (("assign_to_me", ""), ("out_of_scope", "lab"), ("triaging", "")):
        with sent_statements(db) as for_few:
            service.bulk_triage(db, actor="rita", item_ids=few, action=action, reason=reason)
            db.flush()
        with sent_statements(db) as for_many:
            service.bulk_triage(db, actor="rita", item_ids=many, action=action, reason=reason)
            db.flush()
        # An executemany is one statement: the reads, one UPDATE or INSERT per table, the
        # audit events in one INSERT.
        assert [sql.split()[0] for sql in for_many] == [sql.split()[0] for sql in for_few], action
        assert len(for_many) <= 10, for_many
    verdict = audit.verify_audit_chain(db)
    assert verdict.ok and verdict.checked == 3 * (10 + ITEMS)


def test_a_bulk_action_that_fails_on_one_item_keeps_nothing(db: Session) -> None:
    make_reviewer(db, "rita")
    make_reviewer(db, "vic", role="viewer")
    ids = _candidates(db, ITEMS, "item")
    service.bulk_triage(db, actor="rita", item_ids=ids, action="assign_to_me")
    service.transition_item(
        db, actor="rita", item_id=ids[-1], target="out_of_scope", reason="a lab machine"
    )
    before, mark = _triage_of(db, ids), _audit_mark(db)
    failures: tuple[tuple[type[Exception], str, list[int]], ...] = (
        # The last item cannot go from out of scope to false positive: 299 rules were added.
        (InvalidTransition, "false_positive", ids),
        (GuardFailed, "needs_info", ids[:-1]),  # no reason given
        (NotFound, "out_of_scope", [*ids[:-1], max(ids) + 1000]),
    )
    for error, action, chosen in failures:
        reason = "" if action == "needs_info" else "a reason"
        with pytest.raises(error), db.begin_nested():
            service.bulk_triage(db, actor="rita", item_ids=chosen, action=action, reason=reason)
        assert _triage_of(db, ids) == before, action
        assert _audit_mark(db) == mark, action
    with pytest.raises(GuardFailed) as raised, db.begin_nested():
        service.bulk_triage(db, actor="vic", item_ids=ids, action="assign_to_me")
    assert raised.value.field == "assignee"
    assert _triage_of(db, ids) == before
    assert list(triage.list_suppression_rules(db)) == []  # not even the 299 of the first try
    # What is kept after the refusals extends the chain where it stood.
    service.bulk_triage(db, actor="rita", item_ids=ids[:-1], action="false_positive", reason="ok")
    assert len(triage.list_suppression_rules(db)) == ITEMS - 1
    verdict = audit.verify_audit_chain(db)
    assert verdict.ok, verdict.reason
