"""The AI incident register: record an incident (what happened, which entry, severity, people
affected, actions), close it; an incident on a governed entry sends it back to review and its
approval route starts again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from collector.errors import Conflict
from collector.store import audit, incidents, register
from collector.store.base import utcnow
from collector.store.incidents import Incident
from server import fields
from server.audit.service import record_change
from server.errors import GuardFailed
from server.register import states

SEVERITIES = ("low", "medium", "high", "critical")
#: Entry states an incident sends back to review.
_REASSESS_FROM = (states.APPROVED, states.RESTRICTED, states.REVIEW_DUE, states.SUSPENDED)


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": incident.incident_id,
        "register_id": incident.register_id,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "people_affected": incident.people_affected,
        "actions": incident.actions,
        "status": incident.status,
        "closure": incident.closure,
        "occurred_on": incident.occurred_on,
    }


def report_incident(
    session: Session,
    *,
    actor: str,
    title: str,
    severity: str,
    occurred_on: dt.date,
    register_id: str | None = None,
    description: str = "",
    people_affected: int = 0,
    actions: str = "",
) -> Incident:
    """Record an incident; if it names a governed entry, send that entry back to review.
    Raises NotFound, GuardFailed."""
    from server.register import service as register_service

    title = fields.text(title, "title", limit=200, required=True)
    severity = fields.choice(severity, "severity", SEVERITIES)
    if not 0 <= people_affected <= 10_000_000_000:
        raise GuardFailed("people_affected", "between 0 and 10,000,000,000")
    entry = register.get_register_entry(session, register_id=register_id) if register_id else None
    audit.lock_audit_chain(session)
    incident = incidents.create_incident(
        session,
        incident_id=incidents.next_incident_id(session, year=utcnow().year),
        register_id=entry.register_id if entry else None,
        title=title,
        description=fields.text(description, "description", limit=8000),
        severity=severity,
        people_affected=people_affected,
        actions=fields.text(actions, "actions", limit=8000),
        occurred_on=occurred_on,
        reported_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="incident.report",
        object_type="incident",
        object_id=incident.incident_id,
        before=None,
        after=incident_snapshot(incident),
    )
    if entry is not None and entry.status in _REASSESS_FROM:
        reason = f"incident {incident.incident_id} ({severity}): {title}"
        register_service.move_entry(
            session,
            actor=actor,
            register_id=entry.register_id,
            expected_version=entry.version,
            target=states.UNDER_REVIEW,
            reason=reason,
        )
    return incident


def close_incident(
    session: Session, *, actor: str, incident_id: str, closure: str, actions: str = ""
) -> Incident:
    """Close an open incident with how it was resolved; raises NotFound, Conflict,
    GuardFailed."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    if incident.status == incidents.CLOSED:
        raise Conflict(f"{incident_id} is already closed")
    before = incident_snapshot(incident)
    incident.closure = fields.text(closure, "closure", limit=8000, required=True)
    if actions.strip():
        incident.actions = fields.text(actions, "actions", limit=8000)
    incident.status = incidents.CLOSED
    incident.closed_by = actor
    incident.closed_at = utcnow()
    session.flush()
    record_change(
        session,
        actor=actor,
        action="incident.close",
        object_type="incident",
        object_id=incident.incident_id,
        before=before,
        after=incident_snapshot(incident),
    )
    return incident
