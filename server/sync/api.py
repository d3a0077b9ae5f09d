"""Incremental sync for a main register or GRC tool, as JSON: the inventory's and the AI
register's change feeds, each paged by an opaque cursor of its own, with ETags. Both feeds
share one reader (server.sync.service.read_feed); only the state each change carries differs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from collector.store.inventory import InventoryItem
from server.register.schemas import RegisterEntryOut, entry_out
from server.sync.service import INVENTORY_FEED, REGISTER_FEED, cursor_pattern, read_feed
from server.web.api_auth import AUTH_RESPONSES, InventoryReader, RegisterReader
from server.web.deps import DbSession
from server.web.etags import NOT_MODIFIED, json_with_etag

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    **NOT_MODIFIED,
    400: {"description": "Malformed cursor"},
}


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


@router.get("/inventory", response_model=InventorySyncPage, responses=_SYNC_RESPONSES)
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
    feed = read_feed(
        session, entity=INVENTORY_FEED, cursor=cursor, updated_since=updated_since, limit=limit
    )
    page = InventorySyncPage(
        feed=INVENTORY_FEED,
        changes=[
            InventoryChange(
                change_seq=change.change_seq,
                id=change.entity_id,
                change=feed.kind(change, item),
                changed_at=change.changed_at,
                item=InventoryItemState.of(item) if feed.kind(change, item) != "deleted" else None,
            )
            for change, item in feed.rows
        ],
        next_cursor=feed.next_cursor,
        has_more=feed.has_more,
    )
    return json_with_etag(request, page)


class RegisterChange(BaseModel):
    change_seq: int = Field(description="Position in the feed; increases in commit order.")
    id: int = Field(description="The entry's row id (its register_id is in `entry`).")
    change: str = Field(description="created, updated or deleted (relative to the cursor)")
    changed_at: dt.datetime
    entry: RegisterEntryOut | None = Field(description="The newest state; null once deleted.")


class RegisterSyncPage(BaseModel):
    feed: str
    changes: list[RegisterChange]
    next_cursor: str = Field(description="Pass back as `cursor`; store it to resume later.")
    has_more: bool


@router.get("/register", response_model=RegisterSyncPage, responses=_SYNC_RESPONSES)
def sync_register(
    request: Request,
    session: DbSession,
    _caller: RegisterReader,
    cursor: Annotated[
        str | None,
        Query(
            pattern=cursor_pattern(REGISTER_FEED),
            description="The next_cursor of the previous page.",
        ),
    ] = None,
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Return the register-entry changes after ``cursor`` (or since ``updated_since``)."""
    feed = read_feed(
        session, entity=REGISTER_FEED, cursor=cursor, updated_since=updated_since, limit=limit
    )
    page = RegisterSyncPage(
        feed=REGISTER_FEED,
        changes=[
            RegisterChange(
                change_seq=change.change_seq,
                id=change.entity_id,
                change=feed.kind(change, entry),
                changed_at=change.changed_at,
                entry=entry_out(entry) if feed.kind(change, entry) != "deleted" else None,
            )
            for change, entry in feed.rows
        ],
        next_cursor=feed.next_cursor,
        has_more=feed.has_more,
    )
    return json_with_etag(request, page)
