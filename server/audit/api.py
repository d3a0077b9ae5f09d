"""The audit trail as JSON: GET /api/v1/audit (newest first, filtered, each event with its
hash-chain link). Read with register:read, like the register it records."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from collector.store import audit
from collector.store.audit import AuditEvent
from server.register.schemas import LINE
from server.web.api_auth import AUTH_RESPONSES, RegisterReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["register"])


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str = Field(description="The hash of the event before this one in the chain.")
    hash: str = Field(description="SHA-256(prev_hash + canonical JSON of the event).")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            at=event.at,
            actor=event.actor,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            before=event.before,
            after=event.after,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


#: What the audit trail records changes to: the register and triage, accounts, and the AI
#: management system around the register (docs/aims.md).
OBJECT_TYPES = (
    "entry", "item", "suppression", "user", "scope", "people", "policy", "approval_route",
    "assessment", "assessment_template", "incident", "training", "soa", "objective",
    "management_review",
)  # fmt: skip


@router.get("/audit", response_model=list[AuditEventOut], responses=AUTH_RESPONSES)
def list_audit_events(
    session: DbSession,
    _who: RegisterReader,
    object_type: Annotated[
        str | None, Query(pattern=f"^({'|'.join(OBJECT_TYPES)})$", description="What changed.")
    ] = None,
    object_id: Annotated[
        str | None,
        Query(max_length=64, pattern=LINE, description="e.g. a register id AIR-2026-0001"),
    ] = None,
    actor: Annotated[str | None, Query(max_length=64, pattern=LINE)] = None,
    action: Annotated[
        str | None, Query(max_length=64, pattern=LINE, description="e.g. entry.approved")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="At or after this time.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEventOut]:
    """The audit trail, newest first, filtered; each event with its hash-chain link."""
    events = audit.list_audit_events(
        session,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return [AuditEventOut.of(event) for event in events]
