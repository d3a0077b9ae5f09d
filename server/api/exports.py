"""Download exports of the inventory: JSON, CSV, CycloneDX 1.6 (register exports later)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from collector import store
from server.api_auth import AUTH_RESPONSES, InventoryReader
from server.deps import DbSession, State
from server.exports import INVENTORY_FORMATS

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

_PAGE = 500


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
        page = store.list_inventory(session, state=item_state, limit=_PAGE, offset=offset)
        rows.extend(page)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    spec = INVENTORY_FORMATS[fmt]
    filename = f"shadowmap-inventory-{dt.date.today():%Y-%m-%d}.{spec.extension}"
    return Response(
        spec.build(rows, state.catalogue),
        media_type=spec.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
