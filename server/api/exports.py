"""Download exports of the inventory and of the AI register: JSON, CSV, CycloneDX 1.6."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from collector.store import inventory, register
from collector.store.register import RegisterEntry
from server.api_auth import AUTH_RESPONSES, InventoryReader, RegisterReader
from server.deps import DbSession, State
from server.exports import INVENTORY_FORMATS, REGISTER_FORMATS
from server.register import states
from server.register.evidence_pack import build_evidence_pack

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

_PAGE = 500
_STATUS_PATTERN = "^(" + "|".join(states.ENTRY_STATES) + ")$"


def _attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/inventory.{fmt}",
    response_class=Response,
    responses={
        **AUTH_RESPONSES,
        200: {"content": {spec.media_type: {} for spec in INVENTORY_FORMATS.values()}},
    },
)
def export_inventory(
    fmt: Annotated[Literal["json", "csv", "cyclonedx"], Path()],
    session: DbSession,
    state: State,
    _caller: InventoryReader,
    item_state: Annotated[str | None, Query(alias="state", max_length=32)] = None,
) -> Response:
    """Export the whole inventory (optionally one triage state) as a file."""
    rows = []
    offset = 0
    while True:
        page = inventory.list_inventory(session, state=item_state, limit=_PAGE, offset=offset)
        rows.extend(page)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    spec = INVENTORY_FORMATS[fmt]
    filename = f"shadowmap-inventory-{dt.date.today():%Y-%m-%d}.{spec.extension}"
    return _attachment(spec.build(rows, state.catalogue), spec.media_type, filename)


def all_register_entries(session: DbSession, *, status: str | None = None) -> list[RegisterEntry]:
    """Return every register entry (optionally in one status), read page by page."""
    entries: list[RegisterEntry] = []
    while True:
        page = register.list_register_entries(
            session, statuses=[status] if status else None, limit=_PAGE, offset=len(entries)
        )
        entries.extend(page)
        if len(page) < _PAGE:
            return entries


@router.get(
    "/register.{fmt}",
    response_class=Response,
    responses={
        **AUTH_RESPONSES,
        200: {"content": {spec.media_type: {} for spec in REGISTER_FORMATS.values()}},
    },
)
def export_register(
    fmt: Annotated[Literal["json", "csv", "cyclonedx"], Path()],
    session: DbSession,
    state: State,
    _caller: RegisterReader,
    status: Annotated[str | None, Query(pattern=_STATUS_PATTERN)] = None,
) -> Response:
    """Export the AI register (optionally one status) as a file."""
    spec = REGISTER_FORMATS[fmt]
    filename = f"shadowmap-register-{dt.date.today():%Y-%m-%d}.{spec.extension}"
    entries = all_register_entries(session, status=status)
    return _attachment(spec.build(entries, state.catalogue), spec.media_type, filename)


@router.get(
    "/evidence-pack.zip",
    response_class=Response,
    responses={**AUTH_RESPONSES, 200: {"content": {"application/zip": {}}}},
)
def export_evidence_pack(session: DbSession, state: State, _caller: RegisterReader) -> Response:
    """Download the ISO/IEC 42001 evidence pack: register, decisions, reviews, audit trail and
    a manifest of SHA-256 hashes (verify with `shadowmap evidence-pack verify FILE`)."""
    now = dt.datetime.now(dt.UTC)
    body = build_evidence_pack(session, catalogue=state.catalogue, now=now)
    filename = f"shadowmap-evidence-pack-{now:%Y-%m-%dT%H%M%SZ}.zip"
    return _attachment(body, "application/zip", filename)
