"""JSON API for register entries: GET/POST/PATCH under /api/v1/register.

Session-authenticated like the pages (server/deps.py); writes also need the session's CSRF
token in the X-CSRF-Token header.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from pydantic import BaseModel

from collector import register_store
from collector.register_models import RegisterEntry
from server.deps import DbSession, Reviewer, Viewer
from server.register import service, states
from server.register.errors import GuardFailed
from server.register.schemas import EntryInput, parse_entry_input
from server.ui import check_csrf

router = APIRouter(prefix="/api/v1/register", tags=["register"])


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


def _out(entry: RegisterEntry) -> RegisterEntryOut:
    fields = set(RegisterEntryOut.model_fields)
    return RegisterEntryOut.model_validate(
        {name: getattr(entry, name) for name in fields}, strict=False
    )


class PatchBody(BaseModel):
    version: int
    changes: dict[str, Any]


@router.get("", response_model=list[RegisterEntryOut])
def list_entries(
    session: DbSession,
    _who: Viewer,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RegisterEntryOut]:
    """List register entries by register id."""
    if status is not None and status not in states.ENTRY_STATES:
        raise GuardFailed("status", f"unknown register status {status!r}")
    entries = register_store.list_register_entries(
        session, statuses=[status] if status else None, limit=limit, offset=offset
    )
    return [_out(entry) for entry in entries]


@router.get("/{register_id}", response_model=RegisterEntryOut)
def get_entry(register_id: str, session: DbSession, _who: Viewer) -> RegisterEntryOut:
    """Return one register entry."""
    return _out(register_store.get_register_entry(session, register_id=register_id[:16]))


@router.post("", response_model=RegisterEntryOut, status_code=201)
def create_entry(
    session: DbSession,
    who: Reviewer,
    body: Annotated[dict[str, Any], Body(max_length=64)],
    x_csrf_token: Annotated[str, Header(max_length=64)] = "",
) -> RegisterEntryOut:
    """Create a register entry under review."""
    check_csrf(who, x_csrf_token)
    entry = service.create_entry(session, actor=who.user.username, fields=parse_entry_input(body))
    return _out(entry)


@router.patch("/{register_id}", response_model=RegisterEntryOut)
def patch_entry(
    register_id: str,
    session: DbSession,
    who: Reviewer,
    body: PatchBody,
    x_csrf_token: Annotated[str, Header(max_length=64)] = "",
) -> RegisterEntryOut:
    """Change some fields of an entry at a known version (409 if it moved on)."""
    check_csrf(who, x_csrf_token)
    entry = register_store.get_register_entry(session, register_id=register_id[:16])
    current = EntryInput.model_validate(
        {name: getattr(entry, name) for name in EntryInput.model_fields}
    )
    updated = service.update_entry(
        session,
        actor=who.user.username,
        register_id=entry.register_id,
        expected_version=body.version,
        fields=parse_entry_input(body.changes, partial_of=current),
    )
    return _out(updated)
