"""Objectives and the management review (ISO/IEC 42001 6.2, 9.1, 9.3): measurable objectives
with targets and trends (share of discovered AI that is governed, reviews on time, training
coverage, open violations, open incidents) and the review pack with the inputs clause 9.3
asks for, as HTML and PDF."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.store import approvals, assessments, audit, incidents, objectives, policies
from collector.store.incidents import Incident
from collector.store.inventory import InventoryItem
from collector.store.policies import PolicyVersion
from collector.store.register import RegisterEntry
from collector.store.triage import TriageRecord
from server.audit.service import record_change
from server.errors import GuardFailed
from server.inventory import states as triage_states
from server.policies.service import DepartmentCoverage, acknowledgement_coverage
from server.register import states
from server.scope.service import ScopeCoverage, scope_coverage
from server.soa.service import soa_rows
from server.training.service import TrainingCoverage, ai_departments_coverage, training_coverage

VIOLATION_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Measure:
    key: str
    label: str
    better: str  # "higher" or "lower"
    share: bool  # a fraction shown as a percentage, else a count
    default_target: float


MEASURES: tuple[Measure, ...] = (
    Measure("governed_share", "Discovered AI that is governed", "higher", True, 0.9),
    Measure("reviews_on_time", "Governed entries reviewed on time", "higher", True, 0.95),
    Measure("training_coverage", "Training coverage (departments using AI)", "higher", True, 0.9),
    Measure(
        "open_violations",
        f"Prohibited AI seen in the last {VIOLATION_WINDOW_DAYS} days",
        "lower",
        False,
        0,
    ),
    Measure("open_incidents", "Open AI incidents", "lower", False, 0),
)
MEASURES_BY_KEY = {measure.key: measure for measure in MEASURES}
_GOVERNED = (states.APPROVED, states.RESTRICTED, states.PROHIBITED, states.REVIEW_DUE)


def measure_now(session: Session, *, today: dt.date) -> dict[str, float | None]:
    """Return the current value of each measure (None when there is nothing to measure)."""
    real = InventoryItem.state.notin_((triage_states.FALSE_POSITIVE, triage_states.MERGED))
    discovered = session.scalar(select(func.count(InventoryItem.id)).where(real)) or 0
    governed = (
        session.scalar(
            select(func.count(InventoryItem.id))
            .join(TriageRecord, TriageRecord.item_id == InventoryItem.id)
            .join(RegisterEntry, RegisterEntry.id == TriageRecord.register_entry_id)
            .where(real, RegisterEntry.status.in_(_GOVERNED))
        )
        or 0
    )
    entries = session.scalars(
        select(RegisterEntry).where(
            RegisterEntry.status.in_((states.APPROVED, states.RESTRICTED, states.REVIEW_DUE))
        )
    ).all()
    on_time = sum(
        e.status != states.REVIEW_DUE and (e.next_review_on is None or e.next_review_on >= today)
        for e in entries
    )
    since = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC) - dt.timedelta(
        days=VIOLATION_WINDOW_DAYS
    )
    violations = (
        session.scalar(
            select(func.count(InventoryItem.id)).where(InventoryItem.last_violation_at >= since)
        )
        or 0
    )
    return {
        "governed_share": governed / discovered if discovered else None,
        "reviews_on_time": on_time / len(entries) if entries else None,
        "training_coverage": ai_departments_coverage(training_coverage(session, today=today)),
        "open_violations": float(violations),
        "open_incidents": float(len(incidents.list_incidents(session, status=incidents.OPEN))),
    }


def set_target(session: Session, *, actor: str, measure: str, target: float) -> None:
    """Set the target of one objective (a share as 0-1 or a percentage); raises GuardFailed."""
    spec = MEASURES_BY_KEY.get(measure)
    if spec is None:
        raise GuardFailed("measure", f"must be one of {', '.join(MEASURES_BY_KEY)}")
    if spec.share and target > 1:
        target = min(target, 100) / 100  # a percentage; above 100% means all
    if not 0 <= target <= 1_000_000:
        raise GuardFailed("target", "a count is between 0 and 1,000,000")
    before = objectives.list_targets(session).get(measure, spec.default_target)
    objectives.save_target(session, measure=measure, target=target, updated_by=actor)
    record_change(
        session,
        actor=actor,
        action="objective.target",
        object_type="objective",
        object_id=measure,
        before={"target": before},
        after={"target": target},
    )


def record_measurements(session: Session, *, actor: str, now: dt.datetime) -> dict[str, float]:
    """Take and keep today's measurements (a point of each trend); return them."""
    values = {k: v for k, v in measure_now(session, today=now.date()).items() if v is not None}
    objectives.add_measurements(session, values=values, at=now)
    record_change(
        session,
        actor=actor,
        action="objective.measure",
        object_type="objective",
        object_id="all",
        before=None,
        after={key: round(value, 4) for key, value in values.items()},
    )
    return values


@dataclass(frozen=True, slots=True)
class ObjectiveRow:
    measure: Measure
    value: float | None
    target: float
    trend: tuple[tuple[dt.datetime, float], ...]

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        if self.measure.better == "higher":
            return self.value >= self.target
        return self.value <= self.target

    def show(self, value: float | None) -> str:
        if value is None:
            return "no data"
        return f"{value:.0%}" if self.measure.share else f"{value:g}"


def objective_rows(session: Session, *, today: dt.date) -> list[ObjectiveRow]:
    """Return each objective with its value today, its target and its recorded trend."""
    values = measure_now(session, today=today)
    targets = objectives.list_targets(session)
    history: dict[str, list[tuple[dt.datetime, float]]] = {}
    for row in objectives.list_measurements(session):
        history.setdefault(row.measure, []).append((row.measured_at, row.value))
    return [
        ObjectiveRow(
            measure,
            values[measure.key],
            targets.get(measure.key, measure.default_target),
            tuple(history.get(measure.key, [])[-12:]),
        )
        for measure in MEASURES
    ]


@dataclass(frozen=True, slots=True)
class PolicyRow:
    policy: PolicyVersion
    coverage: list[DepartmentCoverage]

    @property
    def acknowledged(self) -> int:
        return sum(row.done for row in self.coverage)

    @property
    def people(self) -> int:
        return sum(row.people for row in self.coverage)


@dataclass(frozen=True, slots=True)
class ManagementReview:
    """The inputs of a management review (ISO/IEC 42001 9.3), as of ``generated_at``."""

    generated_at: dt.datetime
    scope: ScopeCoverage
    objectives: list[ObjectiveRow]
    policies: list[PolicyRow]
    entries_by_status: dict[str, int]
    entries_by_risk: dict[str, int]
    routes: int
    assessments_done: dict[str, int]
    incidents: list[Incident]
    training: list[TrainingCoverage]
    soa_status: dict[str, int]
    soa_applicable: int
    reviews_overdue: list[RegisterEntry]
    audit_ok: bool
    audit_events: int
    audit_head: str
    previous_review: dt.datetime | None
    changes_since: list[str] = field(default_factory=list)


def build_review(session: Session, *, now: dt.datetime) -> ManagementReview:
    """Gather the management review pack from the data; reads only."""
    today = now.date()
    entries = session.scalars(select(RegisterEntry)).all()
    previous = audit.list_audit_events(session, action="management_review.print", limit=1)
    previous_at = previous[0].at if previous else None
    changes = []
    if previous_at is not None:
        for event in audit.list_audit_events(session, since=previous_at, limit=200):
            if event.action in ("scope.publish", "policy.publish", "route.create", "route.update"):
                changes.append(
                    f"{event.at:%Y-%m-%d} {event.action} {event.object_id} by {event.actor}"
                )
    verdict = audit.verify_audit_chain(session)
    rows = soa_rows(session)
    return ManagementReview(
        generated_at=now,
        scope=scope_coverage(session),
        objectives=objective_rows(session, today=today),
        policies=[
            PolicyRow(policy, acknowledgement_coverage(session, policy=policy))
            for policy in policies.current_policies(session)
        ],
        entries_by_status=dict(Counter(e.status for e in entries)),
        entries_by_risk=dict(Counter(e.risk_level for e in entries if e.status != "retired")),
        routes=len(approvals.list_routes(session, active_only=True)),
        assessments_done=dict(
            Counter(
                item.kind
                for item in assessments.list_assessments(session, limit=1_000_000)
                if item.status == assessments.COMPLETED
            )
        ),
        incidents=list(incidents.list_incidents(session)),
        training=training_coverage(session, today=today),
        soa_status=dict(Counter(row.status for row in rows)),
        soa_applicable=sum(row.applicable for row in rows),
        reviews_overdue=[
            e
            for e in entries
            if e.status in (states.APPROVED, states.RESTRICTED, states.REVIEW_DUE)
            and (e.status == states.REVIEW_DUE or (e.next_review_on and e.next_review_on < today))
        ],
        audit_ok=verdict.ok,
        audit_events=verdict.checked,
        audit_head=verdict.head,
        previous_review=previous_at,
        changes_since=changes,
    )


def note_printed(session: Session, *, actor: str, review: ManagementReview) -> None:
    """Record in the audit trail that a review pack was printed (the next pack lists what
    changed since)."""
    record_change(
        session,
        actor=actor,
        action="management_review.print",
        object_type="management_review",
        object_id=review.generated_at.date().isoformat(),
        before=None,
        after={
            "objectives": {
                row.measure.key: None if row.value is None else round(row.value, 4)
                for row in review.objectives
            },
            "audit_head": review.audit_head,
        },
    )
