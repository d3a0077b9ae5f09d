"""Approval routes on SQLite and PostgreSQL: a route for personal data that needs a DPIA and
two sign-offs in order blocks the register's decision until it is complete; an incident sends
the entry back to review and the sign-offs must be given again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.store import register
from server.approvals import service as approvals
from server.assessments import service as assessments
from server.errors import Forbidden, GuardFailed
from server.incidents import service as incidents
from server.register import service as register_service
from server.register.schemas import EntryInput
from tests.server.seed import audit_actions, ready_entry

DPIA_ROUTE = {
    "name": "Personal data",
    "assessments_needed": ["dpia_screening", "dpia"],
    "approvers": ["role:reviewer", "user:priya"],
    "personal_data": True,
}


def _approve(db: Session, register_id: str, actor: str = "rita") -> None:
    entry = register.get_register_entry(db, register_id=register_id)
    register_service.decide_entry(
        db,
        actor=actor,
        register_id=register_id,
        expected_version=entry.version,
        decision="approved",
        rationale="route complete",
    )


def test_a_personal_data_entry_needs_its_dpia_and_sign_offs_before_approval(db: Session) -> None:
    route = approvals.save_route(db, actor="admin", **DPIA_ROUTE)  # type: ignore[arg-type]
    register_id = ready_entry(db, data_classes=["customer_data"], dpia_screening="dpia_required")
    with pytest.raises(GuardFailed) as raised:
        _approve(db, register_id)
    assert raised.value.field == "dpia_screening"

    # Sign-offs wait for the assessments.
    with pytest.raises(GuardFailed, match="assessments first"):
        approvals.sign_off(
            db, actor="rita", actor_role="reviewer", register_id=register_id,
            route_id=route.id, step=0, outcome="approved",
        )  # fmt: skip
    assessments.record_assessment(
        db, actor="rita", register_id=register_id, kind="dpia_screening",
        answers=["yes", "no", "no", "yes", "no"],
    )  # fmt: skip
    entry = register.get_register_entry(db, register_id=register_id)
    assert entry.dpia_screening == "dpia_required"
    assessments.record_assessment(
        db, actor="rita", register_id=register_id, kind="dpia",
        answers=["chat support", "needed", "leaks", "redaction", "agreed"],
    )  # fmt: skip
    assert register.get_register_entry(db, register_id=register_id).dpia_screening == (
        "dpia_completed"
    )
    # The register guard is satisfied; the route is not.
    with pytest.raises(GuardFailed, match="still needs sign-off by role:reviewer, user:priya"):
        _approve(db, register_id)

    # In order: priya's step waits for the reviewer's.
    with pytest.raises(GuardFailed, match="sign in order"):
        approvals.sign_off(
            db, actor="priya", actor_role="viewer", register_id=register_id,
            route_id=route.id, step=1, outcome="approved",
        )  # fmt: skip
    with pytest.raises(Forbidden):
        approvals.sign_off(
            db, actor="victor", actor_role="viewer", register_id=register_id,
            route_id=route.id, step=0, outcome="approved",
        )  # fmt: skip
    approvals.sign_off(
        db, actor="rita", actor_role="reviewer", register_id=register_id,
        route_id=route.id, step=0, outcome="approved",
    )  # fmt: skip
    with pytest.raises(Conflict):
        approvals.sign_off(
            db, actor="ron", actor_role="admin", register_id=register_id,
            route_id=route.id, step=0, outcome="approved",
        )  # fmt: skip
    approvals.sign_off(
        db, actor="priya", actor_role="viewer", register_id=register_id,
        route_id=route.id, step=1, outcome="approved",
    )  # fmt: skip
    _approve(db, register_id)
    assert register.get_register_entry(db, register_id=register_id).status == "approved"
    actions = audit_actions(db)
    assert actions.count("signoff.approved") == 2 and actions[-1] == "entry.approved"

    # An incident sends the entry back to review and retires the sign-offs.
    incident = incidents.report_incident(
        db, actor="rita", title="Customer data pasted", severity="high",
        occurred_on=dt.date.today(), register_id=register_id, people_affected=12,
    )  # fmt: skip
    entry = register.get_register_entry(db, register_id=register_id)
    assert entry.status == "under_review"
    assert incident.incident_id.startswith("INC-")
    assert audit_actions(db)[-3:] == ["incident.report", "entry.under_review", "signoff.retire"]
    with pytest.raises(GuardFailed, match="still needs sign-off"):
        _approve(db, register_id)


def test_a_route_applies_only_to_the_entries_it_names(db: Session) -> None:
    approvals.save_route(db, actor="admin", **DPIA_ROUTE)  # type: ignore[arg-type]
    approvals.save_route(
        db, actor="admin", name="High risk", risk_levels=["high", "critical"],
        assessments_needed=["impact_assessment"], approvers=["role:admin"], mode="parallel",
    )  # fmt: skip
    plain = ready_entry(db)
    _approve(db, plain)  # no personal data, low risk: no route
    high = ready_entry(db, risk_level="high")
    entry = register.get_register_entry(db, register_id=high)
    assert [p.route.name for p in approvals.route_progress(db, entry=entry)] == ["High risk"]
    approvals.save_route(
        db, actor="admin", name="Customers", customer_facing=True,
        assessments_needed=["human_oversight_design"], approvers=["role:admin"],
    )  # fmt: skip
    approvals.save_route(
        db, actor="admin", name="Decisions", decision_support=True,
        assessments_needed=["bias_accuracy_testing"], approvers=["role:admin"],
    )  # fmt: skip
    facing = register.get_register_entry(db, register_id=ready_entry(db, customer_facing=True))
    assert [p.route.name for p in approvals.route_progress(db, entry=facing)] == ["Customers"]
    deciding = register.get_register_entry(
        db, register_id=ready_entry(db, decision_support=True, risk_level="critical")
    )
    assert [p.route.name for p in approvals.route_progress(db, entry=deciding)] == [
        "Decisions",
        "High risk",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"approvers": []}, "approvers"),
        ({"approvers": ["role:viewer"]}, "approvers"),
        ({"approvers": ["boss"]}, "approvers"),
        ({"assessments_needed": ["astrology"]}, "assessments"),
        ({"mode": "random"}, "mode"),
        ({"risk_levels": ["extreme"]}, "risk_levels"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_routes_are_refused_naming_the_field(
    db: Session, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(GuardFailed) as raised:
        approvals.save_route(db, actor="admin", **{**DPIA_ROUTE, **changes})  # type: ignore[arg-type]
    assert raised.value.field == field


def test_an_edit_that_brings_an_approved_entry_under_a_route_is_refused(db: Session) -> None:
    approvals.save_route(db, actor="admin", **DPIA_ROUTE)  # type: ignore[arg-type]
    register_id = ready_entry(db)
    _approve(db, register_id)
    entry = register.get_register_entry(db, register_id=register_id)
    current = EntryInput.model_validate(
        {name: getattr(entry, name) for name in EntryInput.model_fields}
    )
    with pytest.raises(GuardFailed) as raised:
        register_service.update_entry(
            db, actor="rita", register_id=register_id, expected_version=entry.version,
            fields=current.model_copy(
                update={"data_classes": ["customer_data"], "dpia_screening": "dpia_completed"}
            ),
        )  # fmt: skip
    assert raised.value.field == "approval_route" and "Personal data" in raised.value.reason
    # An edit that keeps it outside every route still goes through.
    updated = register_service.update_entry(
        db, actor="rita", register_id=register_id, expected_version=entry.version,
        fields=current.model_copy(update={"purpose": "Drafting letters"}),
    )  # fmt: skip
    assert updated.purpose == "Drafting letters"


def test_a_retired_route_no_longer_holds_entries_back(db: Session) -> None:
    route = approvals.save_route(db, actor="admin", **DPIA_ROUTE)  # type: ignore[arg-type]
    register_id = ready_entry(db, data_classes=["customer_data"], dpia_screening="dpia_completed")
    with pytest.raises(GuardFailed, match="Personal data"):
        _approve(db, register_id)
    values = approvals.route_snapshot(route)
    values["assessments_needed"] = values.pop("assessments")
    approvals.save_route(db, actor="admin", route_id=route.id, **{**values, "active": False})
    _approve(db, register_id)
    assert audit_actions(db)[-2:] == ["route.update", "entry.approved"]
