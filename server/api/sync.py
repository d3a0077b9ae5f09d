"""Incremental sync for a main register or GRC tool: the inventory's change feed, paged by
an opaque cursor, with ETags. Register entries will join as another feed of the same shape.

Guarantee (see collector/api_store.py): resuming from the last ``next_cursor`` returns every
row changed since, each change once, in commit order; a row changed several times between two
polls comes once, in its newest state. ``updated_since`` only narrows the first request.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from collector import api_store
from collector.models import InventoryItem
from server.api.paging import (
    NOT_MODIFIED,
    cursor_pattern,
    decode_cursor,
    encode_cursor,
    json_with_etag,
)
from server.api_auth import AUTH_RESPONSES, InventoryReader
from server.deps import DbSession

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

INVENTORY_FEED = "inventory.item"


class InventoryItemState(BaseModel):
    id: int
    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str
    state: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, item: InventoryItem) -> InventoryItemState:
        return cls(
            id=item.id,
            key=item.key,
            service_id=item.service_id,
            name=item.name,
            vendor=item.vendor,
            category=item.category,
            state=item.state,
            first_seen_at=item.first_seen_at,
            last_seen_at=item.last_seen_at,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class InventoryChange(BaseModel):
    change_seq: int = Field(description="Position in the feed; increases in commit order.")
    id: int
    change: str = Field(description="created, updated or deleted (relative to the cursor)")
    changed_at: dt.datetime
    item: InventoryItemState | None = Field(description="The newest state; null once deleted.")


class InventorySyncPage(BaseModel):
    feed: str
    changes: list[InventoryChange]
    next_cursor: str = Field(description="Pass back as `cursor`; store it to resume later.")
    has_more: bool


@router.get(
    "/inventory",
    response_model=InventorySyncPage,
    responses={**AUTH_RESPONSES, **NOT_MODIFIED, 400: {"description": "Malformed cursor"}},
)
def sync_inventory(
    request: Request,
    session: DbSession,
    _caller: InventoryReader,
    cursor: Annotated[
        str | None,
        Query(
            pattern=cursor_pattern(INVENTORY_FEED),
            description="The next_cursor of the previous page.",
        ),
    ] = None,
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Return the inventory changes after ``cursor`` (or since ``updated_since``)."""
    after = decode_cursor(cursor, entity=INVENTORY_FEED) if cursor else 0
    # Read before the page: every change up to this number is committed, so when a filtered
    # first page is empty the poller can resume from here without missing anything.
    committed = api_store.latest_change_seq(session)
    rows = api_store.list_inventory_changes(
        session,
        after_seq=after,
        changed_since=updated_since if cursor is None else None,
        limit=limit + 1,
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        last = rows[-1][0].change_seq
    else:
        last = committed if cursor is None and updated_since is not None else after
    page = InventorySyncPage(
        feed=INVENTORY_FEED,
        changes=[
            InventoryChange(
                change_seq=change.change_seq,
                id=change.entity_id,
                change="deleted"
                if change.deleted or item is None
                else ("created" if change.first_seq > after else "updated"),
                changed_at=change.changed_at,
                item=InventoryItemState.of(item)
                if item is not None and not change.deleted
                else None,
            )
            for change, item in rows
        ],
        next_cursor=encode_cursor(entity=INVENTORY_FEED, seq=last),
        has_more=has_more,
    )
    return json_with_etag(request, page)
