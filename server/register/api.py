"""JSON API for register entries: GET/POST/PATCH under /api/v1/register.

Called with an API token holding register:read / register:write, or with a signed-in
session whose role grants those scopes; a session's writes also need its CSRF token in the
X-CSRF-Token header (server/web/api_auth.py checks it).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, create_model

from collector.store import register
from server.register import service, states
from server.register.schemas import EntryInput, RegisterEntryOut, entry_out, parse_entry_input
from server.web.api_auth import AUTH_RESPONSES, RegisterReader, RegisterWriter
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1/register", tags=["register"])
_STATUS_PATTERN = "^(" + "|".join(states.ENTRY_STATES) + ")$"


def _entry_changes() -> type[BaseModel]:
    """The fields of an entry, each optional: what a patch may change (the same bounds, no
    other names), so that the document describes what the server accepts."""
    fields: dict[str, Any] = {}
    for name, info in EntryInput.model_fields.items():
        optional = copy.copy(info)
        optional.default = None
        optional.default_factory = None
        fields[name] = (info.annotation, optional)
    model: type[BaseModel] = create_model(
        "EntryChanges",
        __config__=ConfigDict(extra="forbid", str_strip_whitespace=True),
        **fields,
    )
    return model


EntryChanges = _entry_changes()


class PatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    changes: EntryChanges  # type: ignore[valid-type]


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
        fields=parse_entry_input(
            body.changes.model_dump(exclude_unset=True),  # type: ignore[attr-defined]
            partial_of=current,
        ),
    )
    return entry_out(updated)
