"""Download exports of the inventory and of the AI register: JSON, CSV, CycloneDX 1.6."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from server.exports.evidence_pack import build_evidence_pack
from server.exports.service import (
    INVENTORY_FORMATS,
    REGISTER_FORMATS,
    buffered,
    inventory_batches,
    register_batches,
)
from server.register import states
from server.web.api_auth import AUTH_RESPONSES, InventoryReader, RegisterReader
from server.web.deps import DbSession, State

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

_STATUS_PATTERN = "^(" + "|".join(states.ENTRY_STATES) + ")$"


def _attachment(body: bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _streamed(chunks: Iterator[bytes], media_type: str, filename: str) -> StreamingResponse:
    # Written as it is read, batch by batch: memory stays bounded whatever the export's size.
    return StreamingResponse(
        buffered(chunks),
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
    state: State,
    _caller: InventoryReader,
    item_state: Annotated[str | None, Query(alias="state", max_length=32)] = None,
) -> Response:
    """Export the whole inventory (optionally one triage state) as a file, streamed."""
    spec = INVENTORY_FORMATS[fmt]
    filename = f"shadowmap-inventory-{dt.date.today():%Y-%m-%d}.{spec.extension}"
    batches = inventory_batches(state.sessions, state=item_state)
    return _streamed(spec.write(batches, state.catalogue), spec.media_type, filename)


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
    state: State,
    _caller: RegisterReader,
    status: Annotated[str | None, Query(pattern=_STATUS_PATTERN)] = None,
) -> Response:
    """Export the AI register (optionally one status) as a file, streamed."""
    spec = REGISTER_FORMATS[fmt]
    filename = f"shadowmap-register-{dt.date.today():%Y-%m-%d}.{spec.extension}"
    batches = register_batches(state.sessions, status=status)
    return _streamed(spec.write(batches, state.catalogue), spec.media_type, filename)


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
