"""Assessments of register entries: the AI system impact assessment (intended use, affected
groups, foreseeable misuse, impacts and their treatment), DPIA screening questions with their
outcome, the DPIA itself and the reviews an approval route asks for. Questions come from
templates an admin can edit. Completing a DPIA screening or a DPIA updates the entry's DPIA
field through the register service, so the register's own guard agrees with the record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from collector.store import assessments, register
from collector.store.assessments import Assessment
from collector.store.base import utcnow
from server import fields
from server.approvals.service import ASSESSMENT_KINDS
from server.audit.service import record_change
from server.errors import GuardFailed
from server.register.schemas import EntryInput

#: The questions each kind starts with, until an admin edits its template.
DEFAULT_QUESTIONS: dict[str, tuple[str, ...]] = {
    "impact_assessment": (
        "Intended use: what is the AI used for, by whom, in which process?",
        "Affected individuals and groups: who can be affected by its outputs?",
        "Foreseeable misuse: how could it be used other than intended?",
        "Impacts: what could go wrong for individuals, groups or society, and how likely?",
        "Treatment: what reduces those impacts (controls, oversight, limits), and who owns it?",
    ),
    "dpia_screening": (
        "Does the use process personal data?",
        "Does it process special-category data, or data about children?",
        "Does it evaluate or score people, or take decisions with legal or similar effect?",
        "Is it large-scale processing or systematic monitoring of people?",
        "Does it use data or technology in a way the people concerned would not expect?",
    ),
    "dpia": (
        "The processing and its purposes",
        "Necessity and proportionality",
        "Risks to the rights and freedoms of the people concerned",
        "Measures that address the risks",
        "Advice of the data protection officer",
    ),
    "supplier_review": (
        "Contract and data processing agreement in place?",
        "Does the supplier train on our data? How is it switched off?",
        "Where is data processed and stored; which subprocessors?",
        "Certifications (ISO/IEC 27001, ISO/IEC 42001, SOC 2)",
    ),
    "security_review": (
        "Authentication and access control (SSO, roles)",
        "Logging available to us",
        "Data retention and deletion",
    ),
    "bias_accuracy_testing": (
        "What was tested, on which data?",
        "Results: accuracy and differences between groups",
        "Accepted limits and monitoring",
    ),
    "human_oversight_design": (
        "Who reviews outputs before they are acted on?",
        "How can a person override or stop the AI?",
        "How are reviewers trained?",
    ),
}
YES_NO = ("yes", "no")
MAX_QUESTIONS = 30


def questions_for(session: Session, *, kind: str) -> list[str]:
    """Return the questions of one kind of assessment (the admin's template, or the default)."""
    fields.choice(kind, "kind", ASSESSMENT_KINDS)
    template = assessments.get_template(session, kind=kind)
    return list(template.questions) if template else list(DEFAULT_QUESTIONS[kind])


def save_template(session: Session, *, actor: str, kind: str, questions: list[str]) -> list[str]:
    """Replace the questions of one kind; raises GuardFailed."""
    fields.choice(kind, "kind", ASSESSMENT_KINDS)
    cleaned = fields.items(questions, "questions", limit=MAX_QUESTIONS, item_limit=500)
    if not cleaned:
        raise GuardFailed("questions", "a template needs at least one question")
    before = questions_for(session, kind=kind)
    assessments.save_template(session, kind=kind, questions=cleaned, updated_by=actor)
    record_change(
        session,
        actor=actor,
        action="assessment_template.update",
        object_type="assessment_template",
        object_id=kind,
        before={"questions": before},
        after={"questions": cleaned},
    )
    return cleaned


def assessment_snapshot(item: Assessment) -> dict[str, Any]:
    return {
        "register_id": item.register_id,
        "kind": item.kind,
        "status": item.status,
        "answers": list(item.answers),
        "outcome": item.outcome,
        "completed_by": item.completed_by,
    }


def screening_outcome(answers: list[dict[str, str]]) -> str:
    """Return the DPIA screening outcome: any "yes" means a DPIA is required."""
    return (
        "dpia_required" if any(row["answer"] == "yes" for row in answers) else ("dpia_not_required")
    )


def record_assessment(
    session: Session,
    *,
    actor: str,
    register_id: str,
    kind: str,
    answers: list[str],
    outcome: str = "",
    complete: bool = True,
) -> Assessment:
    """Record an assessment of an entry with one answer per template question; when complete,
    every question needs an answer. Raises NotFound, GuardFailed."""
    fields.choice(kind, "kind", ASSESSMENT_KINDS)
    entry = register.get_register_entry(session, register_id=register_id)
    questions = questions_for(session, kind=kind)
    if len(answers) > len(questions):
        raise GuardFailed("answers", f"the template has {len(questions)} questions")
    rows = []
    for number, question in enumerate(questions, start=1):
        answer = answers[number - 1] if number <= len(answers) else ""
        answer = fields.text(answer, f"answers.{number}", limit=4000, required=complete)
        if kind == "dpia_screening" and answer:
            answer = fields.choice(answer.lower(), f"answers.{number}", YES_NO)
        rows.append({"question": question, "answer": answer})
    outcome = fields.text(outcome, "outcome", limit=4000)
    if kind == "dpia_screening" and complete:
        outcome = screening_outcome(rows)
    item = assessments.create_assessment(
        session,
        register_id=entry.register_id,
        kind=kind,
        status=assessments.COMPLETED if complete else assessments.IN_PROGRESS,
        answers=rows,
        outcome=outcome,
        created_by=actor,
        completed_by=actor if complete else None,
        completed_at=utcnow() if complete else None,
    )
    record_change(
        session,
        actor=actor,
        action="assessment.complete" if complete else "assessment.start",
        object_type="assessment",
        object_id=item.id,
        before=None,
        after=assessment_snapshot(item),
    )
    if complete:
        _update_entry(session, actor=actor, item=item)
    return item


def _update_entry(session: Session, *, actor: str, item: Assessment) -> None:
    from server.register import service as register_service

    entry = register.get_register_entry(session, register_id=item.register_id)
    if item.kind == "dpia_screening" and entry.dpia_screening != "dpia_completed":
        value = item.outcome
    elif item.kind == "dpia":
        value = "dpia_completed"
    else:
        return
    if entry.dpia_screening == value or entry.status == "retired":
        return
    current = EntryInput.model_validate(
        {name: getattr(entry, name) for name in EntryInput.model_fields}
    )
    register_service.update_entry(
        session,
        actor=actor,
        register_id=entry.register_id,
        expected_version=entry.version,
        fields=current.model_copy(update={"dpia_screening": value}),
    )
