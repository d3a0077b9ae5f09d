"""The AI management system's part of the evidence pack: scope, policies and their
acknowledgements, approval routes and sign-offs, assessments, incidents, training, the
Statement of Applicability, objectives and the management review pack, one file each under
aims/. Read-only; the caller holds the audit-chain lock so that they match the trail."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from collector.store import approvals, assessments, incidents, policies, training
from collector.store import scope as scope_store
from server.approvals.service import route_snapshot
from server.exports.service import csv_cell
from server.incidents.service import incident_snapshot
from server.management_review import render
from server.management_review.service import build_review, objective_rows
from server.scope.service import scope_snapshot
from server.soa.service import soa_rows

#: Every file of the AIMS part, with what it evidences (README and verifier read this).
AIMS_FILES: dict[str, str] = {
    "aims/scope.json": "AIMS scope, every version (clause 4.3)",
    "aims/policies.json": "AI policy versions with their Markdown text (A.2.2, A.2.4)",
    "aims/acknowledgements.csv": "who acknowledged which policy version, when and how (7.3)",
    "aims/approval-routes.json": "approval routes: criteria, assessments, approvers (A.9.2, A.3.2)",
    "aims/signoffs.csv": "every sign-off, current and retired (A.9.2)",
    "aims/assessments.json": "impact assessments, DPIA screenings and reviews (6.1.4, A.5)",
    "aims/incidents.csv": "the AI incident register (A.3.3, A.8.4, 10.2)",
    "aims/training.csv": "training records (7.2, A.4.6)",
    "aims/soa.csv": "the Statement of Applicability with its crosswalk (6.1.3)",
    "aims/objectives.json": "objectives, targets and trends (6.2, 9.1)",
    "aims/management-review.html": "the management review pack (9.3)",
}

SIGNOFF_COLUMNS = (
    "register_id", "route", "step", "approver", "signed_by", "outcome", "comment", "current",
    "at",
)  # fmt: skip
INCIDENT_COLUMNS = (
    "incident_id", "register_id", "title", "severity", "people_affected", "occurred_on",
    "description", "actions", "status", "closure", "reported_by", "closed_by", "closed_at",
)  # fmt: skip
SOA_COLUMNS = (
    "control_id", "title", "applicable", "status", "justification", "evidence",
    "evidence_links", "references", "decided_by_admin", "nist_ai_rmf", "eu_ai_act",
)  # fmt: skip


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False).encode()


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    return out.getvalue().encode()


def aims_files(session: Session, *, now: dt.datetime) -> dict[str, bytes]:
    """Return every file of the AIMS part of the pack, by path."""
    versions = policies.list_policy_versions(session)
    policy_json = [
        {
            "id": p.id,
            "policy_key": p.policy_key,
            "version": p.version,
            "title": p.title,
            "status": p.status,
            "approver_role": p.approver_role,
            "approved_by": p.approved_by,
            "published_on": p.published_on,
            "body_sha256": hashlib.sha256(p.body_markdown.encode()).hexdigest(),
            "body_markdown": p.body_markdown,
        }
        for p in versions
    ]
    acks = [
        {"policy_key": policy.policy_key, "version": policy.version, "username": person.username,
         "department": person.department, "via": ack.via, "at": ack.at.isoformat()}
        for ack, policy, person in policies.list_acknowledgements(session)
    ]  # fmt: skip
    routes = {route.id: route for route in approvals.list_routes(session)}
    signoffs = [
        {"register_id": s.register_id, "route": routes[s.route_id].name, "step": s.step + 1,
         "approver": s.approver, "signed_by": s.signed_by, "outcome": s.outcome,
         "comment": s.comment, "current": "yes" if s.active else "no (review round ended)",
         "at": s.at.isoformat()}
        for s in approvals.list_signoffs(session, active_only=False)
    ]  # fmt: skip
    assessment_json = [
        {"id": a.id, "register_id": a.register_id, "kind": a.kind, "status": a.status,
         "answers": a.answers, "outcome": a.outcome, "created_by": a.created_by,
         "completed_by": a.completed_by, "completed_at": a.completed_at}
        for a in assessments.list_assessments(session, limit=1_000_000)
    ]  # fmt: skip
    incident_rows = [
        {**incident_snapshot(i), "reported_by": i.reported_by, "closed_by": i.closed_by,
         "closed_at": i.closed_at}
        for i in reversed(incidents.list_incidents(session))
    ]  # fmt: skip
    training_rows = [
        {"username": person.username, "department": person.department, "course": r.course,
         "completed_on": r.completed_on, "expires_on": r.expires_on, "recorded_by": r.recorded_by}
        for r, person in training.list_training_records(session)
    ]  # fmt: skip
    soa = [
        {"control_id": row.control.control_id, "title": row.control.title,
         "applicable": "yes" if row.applicable else "no", "status": row.status,
         "justification": row.justification, "evidence": "; ".join(row.evidence),
         "evidence_links": " ".join(row.links), "references": " ".join(row.references),
         "decided_by_admin": "yes" if row.decided else "no",
         "nist_ai_rmf": ", ".join(row.control.nist_ai_rmf), "eu_ai_act": row.control.eu_ai_act}
        for row in soa_rows(session)
    ]  # fmt: skip
    objectives = [
        {"measure": row.measure.key, "label": row.measure.label, "better": row.measure.better,
         "value": row.value, "target": row.target, "met": row.met,
         "trend": [{"at": at, "value": value} for at, value in row.trend]}
        for row in objective_rows(session, today=now.date())
    ]  # fmt: skip
    return {
        "aims/scope.json": _json(
            [scope_snapshot(s) for s in scope_store.list_scope_versions(session)]
        ),
        "aims/policies.json": _json(policy_json),
        "aims/acknowledgements.csv": _csv(
            ("policy_key", "version", "username", "department", "via", "at"), acks
        ),
        "aims/approval-routes.json": _json(
            [{"id": r.id, **route_snapshot(r)} for r in routes.values()]
        ),
        "aims/signoffs.csv": _csv(SIGNOFF_COLUMNS, signoffs),
        "aims/assessments.json": _json(assessment_json),
        "aims/incidents.csv": _csv(INCIDENT_COLUMNS, incident_rows),
        "aims/training.csv": _csv(
            ("username", "department", "course", "completed_on", "expires_on", "recorded_by"),
            training_rows,
        ),
        "aims/soa.csv": _csv(SOA_COLUMNS, soa),
        "aims/objectives.json": _json(objectives),
        "aims/management-review.html": render.render_html(build_review(session, now=now)).encode(),
    }
