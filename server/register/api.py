"""JSON API for register entries (GET/POST/PATCH under /api/v1/register) and the governance
reads around them: /api/v1/audit, /api/v1/reviews and /api/v1/suppliers.

Called with an API token holding register:read / register:write, or with a signed-in
session whose role grants those scopes; a session's writes also need its CSRF token in the
X-CSRF-Token header (server/api_auth.py checks it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from collector.store import audit, register
from collector.store.audit import AuditEvent
from collector.store.base import utcnow
from collector.store.register import RegisterEntry
from server.api_auth import (
    AUTH_RESPONSES,
    RegisterAndInventoryReader,
    RegisterReader,
    RegisterWriter,
)
from server.deps import DbSession
from server.register import service, states
from server.register.reviews import review_rows, supplier_summaries
from server.register.schemas import LINE, EntryInput, parse_entry_input

router = APIRouter(prefix="/api/v1/register", tags=["register"])
#: The governance reads around the register: audit trail, reviews, suppliers.
governance_router = APIRouter(prefix="/api/v1", tags=["register"])
_STATUS_PATTERN = "^(" + "|".join(states.ENTRY_STATES) + ")$"


class RegisterEntryOut(EntryInput):
    register_id: str
    version: int
    status: str
    decision: str | None
    decision_conditions: str
    decision_rationale: str
    decided_by: str | None
    decided_at: dt.datetime | None
    last_reviewed_on: dt.date | None
    next_review_on: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


def entry_out(entry: RegisterEntry) -> RegisterEntryOut:
    """Return an entry as the API shows it."""
    fields = set(RegisterEntryOut.model_fields)
    return RegisterEntryOut.model_validate(
        {name: getattr(entry, name) for name in fields}, strict=False
    )


class PatchBody(BaseModel):
    version: int
    changes: dict[str, Any]


@router.get(
    "",
    response_model=list[RegisterEntryOut],
    responses=AUTH_RESPONSES,
)
def list_entries(
    session: DbSession,
    _who: RegisterReader,
    status: Annotated[str | None, Query(pattern=_STATUS_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[RegisterEntryOut]:
    """List register entries by register id."""
    entries = register.list_register_entries(
        session, statuses=[status] if status else None, limit=limit, offset=offset
    )
    return [entry_out(entry) for entry in entries]


@router.get(
    "/{register_id}",
    response_model=RegisterEntryOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such entry"}},
)
def get_entry(register_id: str, session: DbSession, _who: RegisterReader) -> RegisterEntryOut:
    """Return one register entry."""
    return entry_out(register.get_register_entry(session, register_id=register_id[:16]))


@router.post(
    "",
    response_model=RegisterEntryOut,
    status_code=201,
    responses=AUTH_RESPONSES,
)
def create_entry(
    session: DbSession,
    who: RegisterWriter,
    body: EntryInput,
) -> RegisterEntryOut:
    """Create a register entry under review."""
    entry = service.create_entry(session, actor=who.actor, fields=body)
    return entry_out(entry)


@router.patch(
    "/{register_id}",
    response_model=RegisterEntryOut,
    responses={
        **AUTH_RESPONSES,
        404: {"description": "No such entry"},
        409: {"description": "The entry moved on since that version"},
    },
)
def patch_entry(
    register_id: str,
    session: DbSession,
    who: RegisterWriter,
    body: PatchBody,
) -> RegisterEntryOut:
    """Change some fields of an entry at a known version (409 if it moved on)."""
    entry = register.get_register_entry(session, register_id=register_id[:16])
    current = EntryInput.model_validate(
        {name: getattr(entry, name) for name in EntryInput.model_fields}
    )
    updated = service.update_entry(
        session,
        actor=who.actor,
        register_id=entry.register_id,
        expected_version=body.version,
        fields=parse_entry_input(body.changes, partial_of=current),
    )
    return entry_out(updated)


# Audit trail, reviews, suppliers -------------------------------------------------------------


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


@governance_router.get("/audit", response_model=list[AuditEventOut], responses=AUTH_RESPONSES)
def list_audit_events(
    session: DbSession,
    _who: RegisterReader,
    object_type: Annotated[
        str | None, Query(pattern="^(entry|item|suppression|user)$", description="What changed.")
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


class ReviewOut(BaseModel):
    register_id: str
    title: str
    status: str
    business_owner: str
    last_reviewed_on: dt.date | None
    next_review_on: dt.date | None
    days_until_review: int = Field(description="Negative when overdue.")
    overdue: bool
    reassessment_triggers: list[str] = Field(
        description="What discovery saw since the last review that suggests reassessing."
    )


@governance_router.get("/reviews", response_model=list[ReviewOut], responses=AUTH_RESPONSES)
def list_reviews(
    session: DbSession,
    _who: RegisterReader,
    due_within_days: Annotated[int, Query(ge=0, le=366)] = 30,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or not.")] = None,
) -> list[ReviewOut]:
    """Governed entries whose review is due within ``due_within_days``, overdue, marked review
    due, or triggered by new discovery; soonest first."""
    rows = review_rows(session, today=utcnow().date(), due_within_days=due_within_days)
    return [
        ReviewOut(
            register_id=row.entry.register_id,
            title=row.entry.title,
            status=row.entry.status,
            business_owner=row.entry.business_owner,
            last_reviewed_on=row.entry.last_reviewed_on,
            next_review_on=row.entry.next_review_on,
            days_until_review=row.days,
            overdue=row.overdue,
            reassessment_triggers=list(row.triggers),
        )
        for row in rows
        if overdue is None or row.overdue == overdue
    ]


class SupplierOut(BaseModel):
    name: str
    supplier_review: str | None = Field(
        description="The weakest supplier review over its register entries; null if none."
    )
    register_entries: int
    register_ids: list[str]
    inventory_items: int = Field(description="Discovered inventory items with this vendor.")


@governance_router.get("/suppliers", response_model=list[SupplierOut], responses=AUTH_RESPONSES)
def list_suppliers(session: DbSession, _who: RegisterAndInventoryReader) -> list[SupplierOut]:
    """Suppliers named by live register entries and vendors seen in the inventory, by name."""
    return [
        SupplierOut(
            name=summary.name,
            supplier_review=summary.supplier_review,
            register_entries=len(summary.register_ids),
            register_ids=summary.register_ids,
            inventory_items=summary.inventory_items,
        )
        for summary in supplier_summaries(session)
    ]
