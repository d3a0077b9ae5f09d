"""The Statement of Applicability: each Annex A control with its applicability, justification,
implementation status and evidence. Defaults are derived from the data (the scope's kinds of AI
use decide applicability; policies, entries, assessments, training, incidents and reviews are
the evidence) and an admin's decision overrides applicability, justification and status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.errors import NotFound
from collector.store import (
    approvals,
    assessments,
    incidents,
    objectives,
    policies,
    soa,
    training,
)
from collector.store import scope as scope_store
from collector.store.audit import AuditEvent
from collector.store.register import RegisterEntry
from collector.store.training import TrainingRecord
from server import fields
from server.audit.service import record_change
from server.errors import GuardFailed
from server.links import link_problem
from server.soa.controls import ANNEX_A, CONTROLS, Control

STATUSES = ("not_started", "planned", "partially_implemented", "implemented", "not_applicable")


@dataclass(frozen=True, slots=True)
class SoaRow:
    control: Control
    applicable: bool
    justification: str
    status: str
    evidence: tuple[str, ...]  # derived from the data
    links: tuple[str, ...]  # added by an admin
    decided: bool  # an admin's decision, not the default
    #: The records behind the evidence, e.g. "policy:3", "entry:AIR-2026-0001",
    #: "assessment:7", "incident:INC-2026-0001", "training:12" (at most MAX_REFERENCES).
    references: tuple[str, ...] = ()


MAX_REFERENCES = 50
_REFERENCE_PAGES = {
    "policy": "/policies/{}",
    "entry": "/register/{}",
    "assessment": "/assessments/{}",
    "incident": "/incidents#{}",
    "training": "/training#{}",
}


def reference_url(reference: str) -> str:
    """Return the page of a record an SoA row references."""
    kind, _, key = reference.partition(":")
    return _REFERENCE_PAGES.get(kind, "/soa#{}").format(key)


def _references(session: Session) -> dict[str, list[str]]:
    """Return, per control, the records that evidence it (newest records last)."""
    found: dict[str, list[str]] = {control.control_id: [] for control in ANNEX_A}

    def add(control_ids: tuple[str, ...], reference: str) -> None:
        for control_id in control_ids:
            found[control_id].append(reference)

    for policy in policies.list_policy_versions(session):
        if policy.status == policies.PUBLISHED:
            add(("A.2.2", "A.2.3", "A.8.2") if policy.version == 1 else ("A.2.2", "A.2.4"),
                f"policy:{policy.id}")  # fmt: skip
    for entry in session.scalars(
        select(RegisterEntry).where(RegisterEntry.status != "retired").order_by(RegisterEntry.id)
    ):
        add(("A.4.2", "A.4.4", "A.4.5"), f"entry:{entry.register_id}")
        if entry.data_classes:
            add(("A.4.3",), f"entry:{entry.register_id}")
        if entry.purpose.strip():
            add(("A.9.4",), f"entry:{entry.register_id}")
        if entry.supplier:
            add(("A.10.2",), f"entry:{entry.register_id}")
        if entry.decision:
            add(("A.9.2",), f"entry:{entry.register_id}")
        if entry.last_reviewed_on:
            add(("A.6.2.6",), f"entry:{entry.register_id}")
    by_kind = {
        "impact_assessment": ("A.5.2", "A.5.3", "A.5.4", "A.5.5"),
        "dpia_screening": ("A.5.4",),
        "dpia": ("A.5.3", "A.5.4"),
        "supplier_review": ("A.10.3",),
        "security_review": ("A.10.3",),
        "bias_accuracy_testing": ("A.9.2",),
        "human_oversight_design": ("A.9.2",),
    }
    for item in assessments.list_assessments(session, limit=1_000_000):
        if item.status == assessments.COMPLETED:
            add(by_kind.get(item.kind, ()), f"assessment:{item.id}")
    for incident in reversed(incidents.list_incidents(session)):
        add(("A.3.3", "A.8.4"), f"incident:{incident.incident_id}")
    for record, _person in training.list_training_records(session):
        add(("A.4.6",), f"training:{record.id}")
    return {key: refs[-MAX_REFERENCES:] for key, refs in found.items()}


def _evidence(session: Session) -> dict[str, list[str]]:
    """Return, per control, what the data shows as evidence."""
    current = policies.current_policies(session)
    policy_refs = [
        f"policy {p.policy_key} v{p.version} published {p.published_on}" for p in current
    ]
    entries = session.scalars(select(RegisterEntry).where(RegisterEntry.status != "retired")).all()
    done = Counter(
        item.kind
        for item in assessments.list_assessments(session, limit=1_000_000)
        if item.status == assessments.COMPLETED
    )
    trained = session.scalar(select(func.count(TrainingRecord.id))) or 0
    incident_count = len(incidents.list_incidents(session))
    routes = approvals.list_routes(session, active_only=True)
    signoffs = len(approvals.list_signoffs(session, active_only=False))
    events = session.scalar(select(func.count(AuditEvent.id))) or 0
    scope = scope_store.current_scope(session)
    targets = objectives.list_targets(session)
    evidence: dict[str, list[str]] = {control.control_id: [] for control in ANNEX_A}

    def add(control_ids: tuple[str, ...], line: str, when: bool = True) -> None:
        if when:
            for control_id in control_ids:
                evidence[control_id].append(line)

    for ref in policy_refs:
        add(("A.2.2", "A.2.3", "A.8.2", "A.9.2"), ref)
    add(
        ("A.2.4",),
        f"{sum(p.version > 1 for p in current)} policies revised",
        any(p.version > 1 for p in current),
    )
    if scope is not None:
        add(("A.3.2",), f"AIMS owner {scope.owner} (scope v{scope.version})")
    add(("A.3.2", "A.9.2"), f"{len(routes)} approval routes naming approvers", bool(routes))
    add(("A.9.2",), f"{signoffs} sign-offs recorded", bool(signoffs))
    add(("A.3.3", "A.8.4"), f"incident register: {incident_count} incidents", bool(incident_count))
    add(("A.4.2", "A.4.4", "A.4.5"), f"AI register: {len(entries)} entries", bool(entries))
    with_data = sum(bool(e.data_classes) for e in entries)
    add(("A.4.3",), f"{with_data} entries document their data classes", bool(with_data))
    add(("A.4.6",), f"{trained} training records", bool(trained))
    impact = done["impact_assessment"]
    add(
        ("A.5.2", "A.5.3", "A.5.4", "A.5.5"), f"{impact} AI system impact assessments", bool(impact)
    )
    dpia = done["dpia"] + done["dpia_screening"]
    add(("A.5.4",), f"{dpia} DPIA screenings and DPIAs", bool(dpia))
    add(("A.6.2.6",), "discovery of AI use on endpoints with review scheduling", bool(entries))
    add(("A.6.2.8",), f"hash-chained audit trail: {events} events", bool(events))
    add(("A.9.3",), f"{len(targets)} objectives with targets", bool(targets))
    with_purpose = sum(bool(e.purpose.strip()) for e in entries)
    add(("A.9.4",), f"{with_purpose} entries state their intended use", bool(with_purpose))
    suppliers = sum(bool(e.supplier) for e in entries)
    add(("A.10.2",), f"{suppliers} entries name their supplier", bool(suppliers))
    reviewed = done["supplier_review"] + sum(
        e.supplier_review in ("approved", "approved_with_conditions") for e in entries
    )
    add(("A.10.3",), f"{reviewed} supplier reviews", bool(reviewed))
    return evidence


def soa_rows(session: Session) -> list[SoaRow]:
    """Return the Statement of Applicability, control by control."""
    scope = scope_store.current_scope(session)
    kinds = set(scope.ai_use_kinds) if scope else {"used"}
    decided = {row.control_id: row for row in soa.list_soa_decisions(session)}
    evidence = _evidence(session)
    references = _references(session)
    rows = []
    for control in ANNEX_A:
        found = tuple(evidence[control.control_id])
        decision = decided.get(control.control_id)
        if decision is not None:
            rows.append(
                SoaRow(
                    control,
                    decision.applicable,
                    decision.justification,
                    decision.status or ("implemented" if found else "planned"),
                    found,
                    tuple(decision.evidence_links),
                    True,
                    tuple(references[control.control_id]),
                )
            )
            continue
        applicable = not control.needs_use or bool(kinds & set(control.needs_use))
        if applicable:
            justification = "Applies to the AI uses in the AIMS scope."
            status = "implemented" if found else "planned"
        else:
            justification = (
                f"The AIMS scope covers AI that is {', '.join(sorted(kinds))}, not "
                f"{' or '.join(control.needs_use)}."
            )
            status = "not_applicable"
        rows.append(
            SoaRow(
                control,
                applicable,
                justification,
                status,
                found,
                (),
                False,
                tuple(references[control.control_id]),
            )
        )
    return rows


def decide_control(
    session: Session,
    *,
    actor: str,
    control_id: str,
    applicable: bool,
    justification: str,
    status: str,
    evidence_links: list[str] | None = None,
) -> None:
    """Record an admin's decision on one control; raises NotFound, GuardFailed."""
    if control_id not in CONTROLS:
        raise NotFound("ISO/IEC 42001 Annex A control", control_id)
    justification = fields.text(justification, "justification", limit=4000, required=True)
    # A control that does not apply is not applicable, whatever status came with it.
    status = "not_applicable" if not applicable else fields.choice(status, "status", STATUSES)
    links = fields.items(evidence_links or [], "evidence_links", limit=50, item_limit=1000)
    for link in links:
        problem = link_problem(link)
        if problem:
            raise GuardFailed("evidence_links", f"{link[:80]!r}: {problem}")
    previous = soa.get_soa_decision(session, control_id=control_id)
    before = (
        {
            "applicable": previous.applicable,
            "justification": previous.justification,
            "status": previous.status,
            "evidence_links": list(previous.evidence_links),
        }
        if previous
        else None
    )
    soa.save_soa_decision(
        session,
        control_id=control_id,
        applicable=applicable,
        justification=justification,
        status=status,
        evidence_links=links,
        updated_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="soa.decide",
        object_type="soa",
        object_id=control_id,
        before=before,
        after={
            "applicable": applicable,
            "justification": justification,
            "status": status,
            "evidence_links": links,
        },
    )
