"""Incremental sync for a main register or GRC tool: the inventory's and the AI register's
change feeds, each paged by an opaque cursor of its own, with ETags. Both feeds share one
reader (:func:`read_feed`); only the state each change carries differs.

Guarantee (see collector/store/sync.py): resuming from the last ``next_cursor`` returns every
row changed since, each change once, in commit order; a row changed several times between two
polls comes once, in its newest state. ``updated_since`` only narrows the first request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from collector.store import sync
from collector.store.inventory import InventoryItem
from collector.store.sync import SyncChange
from server.api.paging import (
    NOT_MODIFIED,
    cursor_pattern,
    decode_cursor,
    encode_cursor,
    json_with_etag,
)
from server.api_auth import AUTH_RESPONSES, InventoryReader, RegisterReader
from server.deps import DbSession
from server.register.api import RegisterEntryOut, entry_out

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

INVENTORY_FEED = "inventory.item"
REGISTER_FEED = "register.entry"
_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    **NOT_MODIFIED,
    400: {"description": "Malformed cursor"},
}


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of a change feed: changes with each row's current state (None once gone)."""

    rows: list[tuple[SyncChange, Any]]
    after: int
    next_cursor: str
    has_more: bool

    def kind(self, change: SyncChange, row: object | None) -> str:
        """created, updated or deleted, relative to the cursor this page was read from."""
        if change.deleted or row is None:
            return "deleted"
        return "created" if change.first_seq > self.after else "updated"


def read_feed(
    session: Session,
    *,
    entity: str,
    cursor: str | None,
    updated_since: dt.datetime | None,
    limit: int,
) -> FeedPage:
    """Read the page of ``entity``'s feed after ``cursor``; raises InvalidInput on a cursor of
    another feed or a malformed one."""
    after = decode_cursor(cursor, entity=entity) if cursor else 0
    # Read before the page: every change up to this number is committed, so when a filtered
    # first page is empty the poller can resume from here without missing anything.
    committed = sync.latest_change_seq(session)
    rows = sync.list_feed_changes(
        session,
        entity=entity,
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
    return FeedPage(
        rows=rows,
        after=after,
        next_cursor=encode_cursor(entity=entity, seq=last),
        has_more=has_more,
    )


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
