"""Reviews as a workflow, on SQLite and PostgreSQL: record a review (keep, change conditions,
re-decide) that sets the next date, a next date never in the past, reassessment triggers
dismissed with a reason, "due soon" meaning the configured window, and the owners (users by
name, or an external address) reminded by email once per review date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from collector.store import inventory, notifications, register
from server.accounts import service as accounts
from server.errors import GuardFailed
from server.register import service
from server.reviews import service as reviews
from signatures import FindingKind
from tests.factories import finding
from tests.server.seed import decided_entry, ingest_items

TODAY = dt.date(2026, 12, 6)


def _entry(db: Session, register_id: str) -> register.RegisterEntry:
    return register.get_register_entry(db, register_id=register_id)


def test_recording_a_review_keeps_changes_or_re_decides_and_sets_the_next_date(
    db: Session,
) -> None:
    register_id = decided_entry(db, "restricted", on=TODAY - dt.timedelta(days=400))
    service.mark_reviews_due(db, today=TODAY)
    entry = _entry(db, register_id)
    assert entry.status == "review_due"
    with pytest.raises(GuardFailed, match="past"):
        reviews.record_review(
            db, actor="carol", register_id=register_id, expected_version=entry.version,
            outcome="keep", notes="still fine", next_review_on=TODAY - dt.timedelta(days=1),
            today=TODAY,
        )  # fmt: skip
    with pytest.raises(GuardFailed, match="notes"):
        reviews.record_review(
            db, actor="carol", register_id=register_id, expected_version=entry.version,
            outcome="keep", notes=" ", today=TODAY,
        )  # fmt: skip
    reviews.record_review(
        db, actor="carol", register_id=register_id, expected_version=entry.version,
        outcome="change_conditions", notes="now for finance too",
        conditions="finance and sales; no customer data", today=TODAY,
    )  # fmt: skip
    entry = _entry(db, register_id)
    assert (entry.status, entry.last_reviewed_on) == ("restricted", TODAY)
    assert entry.next_review_on == dt.date(2027, 12, 6)  # the 12-month cadence
    assert entry.decision_conditions == "finance and sales; no customer data"
    linked = [row.item for row in inventory.list_inventory(db) if row.item.name == "ChatGPT"]
    assert linked[0].governed_status == "restricted"  # the item follows the entry back

    reviews.record_review(
        db, actor="carol", register_id=register_id, expected_version=entry.version,
        outcome="re_decide", notes="usage changed", today=TODAY,
    )  # fmt: skip
    assert _entry(db, register_id).status == "under_review"
    assert [
        row.item.governed_status
        for row in inventory.list_inventory(db)
        if row.item.name == "ChatGPT"
    ] == ["under_review"]


def test_the_next_review_date_is_editable_but_never_in_the_past(db: Session) -> None:
    register_id = decided_entry(db, "approved", on=TODAY)
    entry = _entry(db, register_id)
    with pytest.raises(GuardFailed, match="past"):
        reviews.set_next_review(
            db, actor="carol", register_id=register_id, expected_version=entry.version,
            next_review_on=TODAY - dt.timedelta(days=1), today=TODAY,
        )  # fmt: skip
    reviews.set_next_review(
        db, actor="carol", register_id=register_id, expected_version=entry.version,
        next_review_on=TODAY + dt.timedelta(days=10), today=TODAY,
    )  # fmt: skip
    assert _entry(db, register_id).next_review_on == TODAY + dt.timedelta(days=10)


def test_due_soon_means_within_the_window_and_triggers_are_dismissed_with_a_reason(
    db: Session,
) -> None:
    far = decided_entry(db, "approved", on=TODAY - dt.timedelta(days=183))  # due in ~182 days
    # A kind of evidence first seen after the decision: a reassessment trigger.
    ingest_items(
        db,
        finding("openai-chatgpt", kind=FindingKind.DNS, indicator="chatgpt.com",
                indicator_kind="domain"),
        host="laptop-2", uid="agent-2",
    )  # fmt: skip
    (row,) = reviews.review_rows(db, today=TODAY, due_within_days=30)
    assert row.entry.register_id == far and row.triggers and not row.due_soon
    assert "new kind of evidence: dns (ChatGPT)" in row.triggers
    with pytest.raises(GuardFailed, match="why"):
        reviews.dismiss_trigger(
            db, actor="carol", register_id=far, trigger=row.triggers[0], reason=""
        )
    with pytest.raises(GuardFailed, match="current"):
        reviews.dismiss_trigger(db, actor="carol", register_id=far, trigger="made up", reason="x")
    for trigger in row.triggers:
        reviews.dismiss_trigger(
            db, actor="carol", register_id=far, trigger=trigger, reason="the same use as decided"
        )
    assert reviews.review_rows(db, today=TODAY, due_within_days=30) == []
    (soon,) = reviews.review_rows(db, today=TODAY, due_within_days=200)
    assert soon.due_soon and soon.triggers == ()


def test_owners_are_reminded_once_when_due_soon_and_once_when_overdue(db: Session) -> None:
    accounts.create_user(
        db, actor="admin", username="dana", role="reviewer", password=None,
        email="dana@example.org",
    )  # fmt: skip
    with pytest.raises(GuardFailed, match="email"):
        accounts.create_user(
            db, actor="admin", username="erin", role="viewer", password=None, email="erin@"
        )
    register_id = decided_entry(
        db, "approved", on=TODAY - dt.timedelta(days=355),
        business_owner="dana", technical_owner="it-ops@example.org",
    )  # fmt: skip
    version = _entry(db, register_id).version
    assert reviews.notify_review_owners(db, today=TODAY, due_within_days=30) == 2
    assert reviews.notify_review_owners(db, today=TODAY, due_within_days=30) == 0  # once
    assert _entry(db, register_id).version == version  # a reminder is no edit of the entry
    later = TODAY + dt.timedelta(days=20)  # now overdue
    assert reviews.notify_review_owners(db, today=later, due_within_days=30) == 2
    emails = notifications.list_emails(db)
    assert sorted(email.to_address for email in emails) == [
        "dana@example.org", "dana@example.org", "it-ops@example.org", "it-ops@example.org",
    ]  # fmt: skip
    assert {email.subject for email in emails} == {
        f"[Shadowmap] Review due soon: {register_id}",
        f"[Shadowmap] Review overdue: {register_id}",
    }
