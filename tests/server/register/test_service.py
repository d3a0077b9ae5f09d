"""Register services on SQLite and PostgreSQL: decision guards, review dates, versions, ids."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from collector.store import register
from server.errors import GuardFailed, InvalidTransition, StaleVersion
from server.register import service
from server.register.schemas import EntryInput
from signatures import load_catalogue
from tests.server.seed import ready_entry

CATALOGUE = load_catalogue()


@pytest.mark.parametrize(
    ("overrides", "decision", "field"),
    [
        ({"business_owner": ""}, "approved", "business_owner"),
        ({"purpose": ""}, "approved", "purpose"),
        ({"risk_level": "unrated"}, "approved", "risk_level"),
        ({"data_classes": ["customer_data"]}, "approved", "dpia_screening"),
        (
            {"personal_data": True, "dpia_screening": "dpia_required"},
            "restricted",
            "dpia_screening",
        ),
        ({"eu_ai_act_class": "prohibited_art5"}, "approved", "eu_ai_act_class"),
        ({"scope_status": "out_of_scope"}, "approved", "scope_status"),
        ({"business_owner": "rita"}, "approved", "business_owner"),  # no self-approval
        ({}, "restricted", "conditions"),
    ],
)
def test_decision_guards(
    db: Session, overrides: dict[str, object], decision: str, field: str
) -> None:
    register_id = ready_entry(db, **overrides)
    with pytest.raises(GuardFailed) as raised:
        service.decide_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            decision=decision,
            rationale="because",
        )
    assert raised.value.field == field
    entry = register.get_register_entry(db, register_id=register_id)
    assert entry.status == "under_review" and entry.decision is None


def test_approval_sets_the_review_date_and_prohibited_stays_prohibited(db: Session) -> None:
    register_id = ready_entry(db, review_cadence_months=6)
    with pytest.raises(GuardFailed):
        service.decide_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            decision="approved",
            rationale=" ",
        )
    entry = service.decide_entry(
        db,
        actor="rita",
        register_id=register_id,
        expected_version=1,
        decision="approved",
        rationale="ok",
        today=dt.date(2026, 8, 31),
    )
    assert entry.next_review_on == dt.date(2027, 2, 28) and entry.version == 2
    with pytest.raises(StaleVersion):
        service.move_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=1,
            target="suspended",
            reason="incident",
        )
    # An approved entry cannot lose the fields its approval rests on.
    with pytest.raises(GuardFailed):
        service.update_entry(
            db,
            actor="rita",
            register_id=register_id,
            expected_version=2,
            fields=EntryInput(title="t", ai_system="ChatGPT", purpose="Drafting", risk_level="low"),
        )
    banned = ready_entry(db, title="DeepSeek")
    service.decide_entry(
        db,
        actor="rita",
        register_id=banned,
        expected_version=1,
        decision="prohibited",
        rationale="no DPA",
    )
    for decision in ("approved", "restricted"):
        with pytest.raises(InvalidTransition):
            service.decide_entry(
                db,
                actor="rita",
                register_id=banned,
                expected_version=2,
                decision=decision,
                rationale="appeal",
                conditions="c",
            )
    service.move_entry(
        db,
        actor="rita",
        register_id=banned,
        expected_version=2,
        target="under_review",
        reason="new facts",
    )


def test_register_ids_count_up_past_four_digits(db: Session) -> None:
    assert register.next_register_id(db, year=2031) == "AIR-2031-0001"
    register.create_register_entry(db, register_id="AIR-2031-9999", title="t", ai_system="s")
    assert register.next_register_id(db, year=2031) == "AIR-2031-10000"
    register.create_register_entry(db, register_id="AIR-2031-10000", title="t", ai_system="s")
    assert register.next_register_id(db, year=2031) == "AIR-2031-10001"
