"""Approval routes: which assessments and whose sign-offs an entry needs, by its risk level,
data classes, personal data, customer-facing or decision-support use, supplier and EU AI Act
class; sign-offs in order or in parallel;
and the blockers the register's decision path checks, so that no entry is approved (or
restricted) before every route it falls under is complete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.store import approvals, assessments
from collector.store.approvals import ApprovalRoute, Signoff
from collector.store.register import FIELDS, RegisterEntry
from server import fields
from server.accounts.roles import ROLES, role_allows
from server.audit.service import record_change
from server.errors import Forbidden, GuardFailed
from server.register import states

#: The assessments a route can ask for, with the label people see.
ASSESSMENT_KINDS: dict[str, str] = {
    "impact_assessment": "AI system impact assessment",
    "dpia_screening": "DPIA screening",
    "dpia": "Data protection impact assessment (DPIA)",
    "supplier_review": "Supplier review",
    "security_review": "Security review",
    "bias_accuracy_testing": "Bias or accuracy testing",
    "human_oversight_design": "Human-oversight design",
}
MODES = (approvals.SEQUENTIAL, approvals.PARALLEL)
OUTCOMES = ("approved", "rejected")


def route_snapshot(route: ApprovalRoute) -> dict[str, Any]:
    return {
        "name": route.name,
        "risk_levels": list(route.risk_levels),
        "data_classes": list(route.data_classes),
        "personal_data": route.personal_data,
        "customer_facing": route.customer_facing,
        "decision_support": route.decision_support,
        "suppliers": list(route.suppliers),
        "eu_ai_act_classes": list(route.eu_ai_act_classes),
        "assessments": list(route.assessments),
        "approvers": list(route.approvers),
        "mode": route.mode,
        "active": route.active,
    }


def _approver(value: str) -> str:
    kind, _, name = value.strip().partition(":")
    if kind == "role" and name in ROLES and name != "viewer":
        return f"role:{name}"
    if kind == "user" and name.strip() and len(name) <= 64:
        return f"user:{name.strip()}"
    raise GuardFailed("approvers", f"{value!r}: use role:reviewer, role:admin or user:<username>")


def save_route(
    session: Session,
    *,
    actor: str,
    name: str,
    assessments_needed: list[str],
    approvers: list[str],
    mode: str = approvals.SEQUENTIAL,
    risk_levels: list[str] | None = None,
    data_classes: list[str] | None = None,
    personal_data: bool = False,
    customer_facing: bool = False,
    decision_support: bool = False,
    suppliers: list[str] | None = None,
    eu_ai_act_classes: list[str] | None = None,
    active: bool = True,
    route_id: int | None = None,
) -> ApprovalRoute:
    """Create a route, or change one; raises GuardFailed, Conflict, NotFound."""
    name = fields.text(name, "name", limit=120, required=True)
    values = {
        "name": name,
        "risk_levels": fields.choices(
            risk_levels or [], "risk_levels", FIELDS["risk_level"].values
        ),
        "data_classes": fields.choices(
            data_classes or [], "data_classes", FIELDS["data_classes"].values
        ),
        "personal_data": bool(personal_data),
        "customer_facing": bool(customer_facing),
        "decision_support": bool(decision_support),
        "suppliers": fields.items(suppliers or [], "suppliers", item_limit=255),
        "eu_ai_act_classes": fields.choices(
            eu_ai_act_classes or [], "eu_ai_act_classes", FIELDS["eu_ai_act_class"].values
        ),
        "assessments": fields.choices(assessments_needed, "assessments", ASSESSMENT_KINDS),
        "approvers": [_approver(value) for value in fields.items(approvers, "approvers", limit=10)],
        "mode": fields.choice(mode, "mode", MODES),
        "active": bool(active),
    }
    if not values["approvers"]:
        raise GuardFailed("approvers", "name at least one approver (a role or a person)")
    same_name = approvals.get_route_by_name(session, name=name)
    if same_name is not None and same_name.id != route_id:
        raise Conflict(f"a route named {name!r} already exists")
    if route_id is None:
        route = approvals.create_route(session, created_by=actor, **values)
        before = None
        action = "route.create"
    else:
        route = approvals.get_route(session, route_id=route_id)
        before = route_snapshot(route)
        for key, value in values.items():
            setattr(route, key, value)
        session.flush()
        action = "route.update"
    record_change(
        session,
        actor=actor,
        action=action,
        object_type="approval_route",
        object_id=route.id,
        before=before,
        after=route_snapshot(route),
    )
    return route


def route_matches(route: ApprovalRoute, entry: RegisterEntry) -> bool:
    """Return whether ``entry`` falls under ``route`` (every criterion set must hold)."""
    if not route.active:
        return False
    if route.risk_levels and entry.risk_level not in route.risk_levels:
        return False
    if route.data_classes and not set(route.data_classes) & set(entry.data_classes or ()):
        return False
    if route.personal_data and not entry.personal_data:
        return False
    if route.customer_facing and not entry.customer_facing:
        return False
    if route.decision_support and not entry.decision_support:
        return False
    if route.suppliers and entry.supplier.lower() not in {s.lower() for s in route.suppliers}:
        return False
    return not (route.eu_ai_act_classes and entry.eu_ai_act_class not in route.eu_ai_act_classes)


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    approver: str
    signoff: Signoff | None


@dataclass(frozen=True, slots=True)
class RouteProgress:
    """Where an entry stands on one route: assessments still missing and each step."""

    route: ApprovalRoute
    missing_assessments: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def rejected(self) -> bool:
        return any(s.signoff is not None and s.signoff.outcome == "rejected" for s in self.steps)

    @property
    def complete(self) -> bool:
        return not self.missing_assessments and all(
            s.signoff is not None and s.signoff.outcome == "approved" for s in self.steps
        )


def completed_kinds(session: Session, *, register_id: str) -> set[str]:
    """Return the kinds of assessment completed for an entry."""
    return {
        item.kind
        for item in assessments.list_assessments(session, register_id=register_id)
        if item.status == assessments.COMPLETED
    }


def route_progress(session: Session, *, entry: RegisterEntry) -> list[RouteProgress]:
    """Return the entry's progress on every active route it falls under, by route name."""
    done = completed_kinds(session, register_id=entry.register_id)
    signoffs = approvals.list_signoffs(session, register_id=entry.register_id)
    progress = []
    for route in approvals.list_routes(session, active_only=True):
        if not route_matches(route, entry):
            continue
        given = {s.step: s for s in signoffs if s.route_id == route.id}
        progress.append(
            RouteProgress(
                route=route,
                missing_assessments=tuple(k for k in route.assessments if k not in done),
                steps=tuple(
                    Step(index, approver, given.get(index))
                    for index, approver in enumerate(route.approvers)
                ),
            )
        )
    return progress


def route_blockers(session: Session, *, entry: RegisterEntry) -> list[tuple[str, str]]:
    """Return (field, reason) for every route the entry has not completed; empty: none."""
    problems = []
    for progress in route_progress(session, entry=entry):
        name = progress.route.name
        for kind in progress.missing_assessments:
            problems.append(
                ("approval_route", f"route {name!r} needs a completed {ASSESSMENT_KINDS[kind]}")
            )
        if progress.rejected:
            problems.append(("approval_route", f"route {name!r} was rejected at a sign-off"))
        missing = [s.approver for s in progress.steps if s.signoff is None]
        if missing:
            problems.append(
                ("approval_route", f"route {name!r} still needs sign-off by {', '.join(missing)}")
            )
    return problems


def _may_sign(approver: str, *, username: str, role: str) -> bool:
    kind, _, name = approver.partition(":")
    if kind == "role":
        return role_allows(role, name)
    return name.lower() == username.lower()


def sign_off(
    session: Session,
    *,
    actor: str,
    actor_role: str,
    register_id: str,
    route_id: int,
    step: int,
    outcome: str,
    comment: str = "",
) -> Signoff:
    """Sign one step of a route for an entry under review; raises NotFound, GuardFailed,
    Forbidden, Conflict."""
    from collector.store import register

    outcome = fields.choice(outcome, "outcome", OUTCOMES)
    comment = fields.text(comment, "comment", limit=4000)
    entry = register.get_register_entry(session, register_id=register_id)
    if entry.status != states.UNDER_REVIEW:
        raise GuardFailed("status", "sign-offs are given while the entry is under review")
    progress = next(
        (p for p in route_progress(session, entry=entry) if p.route.id == route_id), None
    )
    if progress is None:
        raise GuardFailed("route", "this entry does not fall under that route")
    if not 0 <= step < len(progress.steps):
        raise GuardFailed("step", f"the route has {len(progress.steps)} steps")
    if progress.missing_assessments:
        kinds = ", ".join(ASSESSMENT_KINDS[k] for k in progress.missing_assessments)
        raise GuardFailed("assessments", f"complete the route's assessments first: {kinds}")
    current = progress.steps[step]
    if current.signoff is not None:
        raise Conflict(f"step {step + 1} is already signed by {current.signoff.signed_by}")
    if not _may_sign(current.approver, username=actor, role=actor_role):
        raise Forbidden(f"step {step + 1} is for {current.approver}")
    if actor.lower() == entry.business_owner.strip().lower():
        raise GuardFailed("business_owner", "the business owner cannot sign off their own use")
    if any(s.signoff is not None and s.signoff.signed_by == actor for s in progress.steps):
        raise GuardFailed("approver", "each step of a route needs a different person")
    if progress.route.mode == approvals.SEQUENTIAL:
        earlier = [s for s in progress.steps[:step] if s.signoff is None]
        if earlier:
            raise GuardFailed("step", f"sign in order: step {earlier[0].index + 1} comes first")
    signoff = approvals.create_signoff(
        session,
        register_id=register_id,
        route_id=route_id,
        step=step,
        approver=current.approver,
        signed_by=actor,
        outcome=outcome,
        comment=comment,
    )
    record_change(
        session,
        actor=actor,
        action=f"signoff.{outcome}",
        object_type="entry",
        object_id=register_id,
        before=None,
        after={
            "route": progress.route.name,
            "step": step + 1,
            "approver": current.approver,
            "comment": comment,
        },
    )
    return signoff


def start_new_round(session: Session, *, actor: str, register_id: str, reason: str) -> int:
    """Retire an entry's sign-offs when it goes back to review; return how many."""
    retired = approvals.retire_signoffs(session, register_id=register_id)
    if retired:
        record_change(
            session,
            actor=actor,
            action="signoff.retire",
            object_type="entry",
            object_id=register_id,
            before=None,
            after={"retired": retired, "reason": reason[:400]},
        )
    return retired
