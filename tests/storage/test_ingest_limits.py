"""Ingest limits on SQLite and PostgreSQL: the per-agent hourly budget restarts on the hour,
a report whose every item is deferred stores no finding, and no limit applies without limits
(log imports, which an admin runs)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.ingest import IngestLimits, ingest_report
from collector.store.inventory import InventoryItem, Sighting
from collector.store.limits import IngestQuota, list_host_limit_hits
from signatures import Finding, load_catalogue
from tests.factories import enrolled_agent, finding, report

CATALOGUE = load_catalogue()
HOURLY = IngestLimits(new_items_per_report=10, new_items_per_agent_hour=15)


def unknown(*names: str) -> list[Finding]:
    return [finding(None, indicator=name, heuristic="test") for name in names]


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_hourly_budget_restarts_on_the_hour(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    at = dt.datetime(2026, 12, 1, 9, 5, tzinfo=dt.UTC)

    def send(names: list[str], now: dt.datetime) -> tuple[int, list[str]]:
        result = ingest_report(
            db,
            agent=agent,
            catalogue=CATALOGUE,
            report=report(unknown(*names), agent_id=agent.agent_uid),
            limits=HOURLY,
            now=now,
        )
        return result.items, [hit.limit for hit in result.limited]

    assert send([f"a{n}" for n in range(12)], at) == (10, ["new_items_per_report"])
    assert send([f"b{n}" for n in range(8)], at + dt.timedelta(minutes=50)) == (
        5,
        ["new_items_per_agent_hour"],
    )
    everything_deferred = send(["c0"], at + dt.timedelta(minutes=54))
    assert everything_deferred == (0, ["new_items_per_agent_hour"])
    # 10:00: a new window.
    assert send([f"b{n}" for n in range(8)], at + dt.timedelta(minutes=55)) == (
        8,
        [],
    )
    assert count(db, InventoryItem) == 10 + 5 + 3  # b0-b4 existed: 3 new at 10:00
    quota = db.get(IngestQuota, agent.id, populate_existing=True)
    assert quota is not None and quota.new_items == 3 and quota.limited_reports == 3
    assert quota.window_start == dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    [hit] = list_host_limit_hits(db, host_id=agent.host_id)
    assert hit.last_limited["limits"] == [
        {
            "limit": "new_items_per_agent_hour",
            "maximum": 15,
            "deferred_items": 1,
            "deferred_findings": 1,
        }
    ]


def test_a_report_whose_items_are_all_deferred_stores_no_finding(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    limits = IngestLimits(new_items_per_report=2)
    first = ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report(unknown("x", "y", "z", "z"), agent_id=agent.agent_uid),
        limits=limits,
    )
    assert (first.findings, first.items) == (2, 2)
    assert first.limited[0].deferred_items == 1
    assert count(db, Sighting) == 2


def test_without_limits_nothing_is_limited(db: Session) -> None:
    agent, _ = enrolled_agent(db)
    result = ingest_report(
        db,
        agent=agent,
        catalogue=CATALOGUE,
        report=report(unknown(*(f"t{n}" for n in range(700))), agent_id=agent.agent_uid),
    )
    assert result.items == 700 and result.limited == ()
    assert db.get(IngestQuota, agent.id) is None
