"""The change feed behind incremental sync: named counters and the newest change of each tracked
row. Keyword-only; the caller owns the transaction.

The change feed's guarantee
---------------------------
Every insert, update or delete of a tracked row (inventory items; register entries since
migration 0006) sets that row's ``sync_changes.change_seq`` to the next value of the counter row
``sync_counters('changes')``. The number is drawn by a database trigger *at commit time*
(PostgreSQL: a deferred constraint trigger that holds the counter's row lock until commit;
SQLite: one writer at a time). So change numbers follow commit order: once a reader sees a
change numbered N, every change numbered below N is already visible to it. A poller that
keeps the last number it saw (the cursor) and asks for ``change_seq > cursor`` therefore
receives every row whose state changed since, exactly once per change number, and never
misses a row committed "late" with an older ``updated_at``. Several changes to one row
between two polls coalesce into its newest state (this is state sync, not an event log).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, UTCDateTime
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry


class SyncCounter(Base):
    """Named monotonic counters; the row ``changes`` numbers every tracked change.

    Database triggers (see migration 0005) bump it when a tracked row commits, so numbers
    follow commit order (see this module's docstring for the guarantee).
    """

    __tablename__ = "sync_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncChange(Base):
    """The newest change of one tracked row (an inventory item, later a register entry)."""

    __tablename__ = "sync_changes"

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


#: Each change feed's entity name and the table its rows live in.
FEED_MODELS: dict[str, type[InventoryItem] | type[RegisterEntry]] = {
    "inventory.item": InventoryItem,
    "register.entry": RegisterEntry,
}


def list_feed_changes(
    session: Session,
    *,
    entity: str,
    after_seq: int,
    changed_since: dt.datetime | None = None,
    limit: int = 100,
) -> list[tuple[SyncChange, Any]]:
    """Return one feed's changes after ``after_seq`` with each row's current state (None once
    deleted), read in one statement so a change and its row come from one snapshot.

    The row is an InventoryItem for "inventory.item" and a RegisterEntry for "register.entry".
    """
    model = FEED_MODELS[entity]
    query = (
        select(SyncChange, model)
        .join(model, model.id == SyncChange.entity_id, isouter=True)
        .where(SyncChange.entity == entity, SyncChange.change_seq > after_seq)
        .order_by(SyncChange.change_seq)
        .limit(limit)
    )
    if changed_since is not None:
        query = query.where(SyncChange.changed_at >= changed_since)
    return [(change, row) for change, row in session.execute(query).all()]


def list_inventory_changes(
    session: Session,
    *,
    after_seq: int,
    changed_since: dt.datetime | None = None,
    limit: int = 100,
) -> list[tuple[SyncChange, InventoryItem | None]]:
    """Return inventory changes after ``after_seq`` with each item's current state."""
    return list_feed_changes(
        session,
        entity="inventory.item",
        after_seq=after_seq,
        changed_since=changed_since,
        limit=limit,
    )


def latest_change_seq(session: Session) -> int:
    return session.scalar(select(SyncCounter.value).where(SyncCounter.name == "changes")) or 0
