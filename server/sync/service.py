"""Read the change feeds of the inventory and the register, one page after a cursor.

Guarantee (see collector/store/sync.py): resuming from the last ``next_cursor`` returns every
row changed since, each change once, in commit order; a row changed several times between two
polls comes once, in its newest state. ``updated_since`` only narrows the first request.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from collector.store import sync
from collector.store.sync import SyncChange
from server.errors import InvalidInput

INVENTORY_FEED = "inventory.item"
REGISTER_FEED = "register.entry"

#: Each feed's cursor prefix; a cursor is the prefix and the last change number in hex.
#: Clients must treat cursors as opaque; the format is published only as a pattern so that
#: every string the OpenAPI document admits is a cursor.
FEED_PREFIXES = {INVENTORY_FEED: "i", REGISTER_FEED: "r"}


def cursor_pattern(entity: str) -> str:
    """Return the pattern of ``entity``'s cursors (at most 15 hex digits: fits a BIGINT)."""
    return rf"^{FEED_PREFIXES[entity]}[0-9a-f]{{1,15}}$"


def encode_cursor(*, entity: str, seq: int) -> str:
    """Return the opaque cursor that resumes ``entity``'s change feed after ``seq``."""
    return f"{FEED_PREFIXES[entity]}{seq:x}"


def decode_cursor(cursor: str, *, entity: str) -> int:
    """Return the change number a cursor stands for; raises InvalidInput naming "cursor"."""
    if not re.fullmatch(r"[a-z][0-9a-f]{1,15}", cursor):
        raise InvalidInput("cursor", "not a cursor returned by this API")
    if cursor[0] != FEED_PREFIXES[entity]:
        raise InvalidInput("cursor", "this cursor belongs to another feed")
    return int(cursor[1:], 16)


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
