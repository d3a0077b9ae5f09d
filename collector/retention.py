"""Retention: prune raw sightings and report records past their period; aggregates stay.

:func:`run_retention` is what ``shadowmap db prune`` and a scheduled job call; it owns its own
transaction, unlike the store functions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from collector import store
from collector.db import transaction

TREND_DAYS = 90


def run_retention(
    sessions: sessionmaker[Session], *, retention_days: int, now: dt.datetime | None = None
) -> store.PruneResult:
    """Prune sightings and reports older than ``retention_days`` in one transaction."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    with transaction(sessions) as session:
        return store.prune(
            session,
            older_than=dt.timedelta(days=retention_days),
            trend_days=TREND_DAYS,
            now=now,
        )
