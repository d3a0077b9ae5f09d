"""Retention: prune raw sightings and report records past their period; aggregates stay.

:func:`prune` works inside the caller's transaction, like the store functions;
:func:`run_retention` is what ``shadowmap db prune`` and a scheduled job call, and owns its own.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table, bindparam, delete, update
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store.agents import Report
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem, ItemDaily, Sighting

TREND_DAYS = 90


@dataclass(frozen=True, slots=True)
class PruneResult:
    sightings: int
    reports: int
    daily_rows: int


def prune(
    session: Session,
    *,
    older_than: dt.timedelta,
    trend_days: int = 90,
    now: dt.datetime | None = None,
) -> PruneResult:
    """Delete raw sightings and report records older than ``older_than``; keep the aggregates.

    Item roll-ups (host and user counts, facets, first and last seen, violations) stay; each
    item's sighting count drops by the sightings removed. Trend rows older than ``trend_days``
    go too. Pruned report ids can no longer be recognised as duplicates, so keep the period
    well beyond how long an agent retries.
    """
    now = now or utcnow()
    cutoff = now - older_than
    removed = Counter(
        session.execute(
            delete(Sighting).where(Sighting.last_seen_at < cutoff).returning(Sighting.item_id)
        ).scalars()
    )
    if removed:
        columns = inventory_table().c
        session.connection().execute(
            update(inventory_table())
            .where(columns.id == bindparam("b_id"))
            .values(sighting_count=columns.sighting_count - bindparam("b_removed")),
            [{"b_id": item_id, "b_removed": count} for item_id, count in sorted(removed.items())],
        )
    reports = _rowcount(session.execute(delete(Report).where(Report.received_at < cutoff)))
    daily = _rowcount(
        session.execute(
            delete(ItemDaily).where(ItemDaily.day < now.date() - dt.timedelta(days=trend_days - 1))
        )
    )
    return PruneResult(sightings=sum(removed.values()), reports=reports, daily_rows=daily)


def _rowcount(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount


def inventory_table() -> Table:
    """Return the inventory items table for Core statements (typed)."""
    return cast(Table, InventoryItem.__table__)


def run_retention(
    sessions: sessionmaker[Session], *, retention_days: int, now: dt.datetime | None = None
) -> PruneResult:
    """Prune sightings and reports older than ``retention_days`` in one transaction."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    with transaction(sessions) as session:
        return prune(
            session,
            older_than=dt.timedelta(days=retention_days),
            trend_days=TREND_DAYS,
            now=now,
        )
