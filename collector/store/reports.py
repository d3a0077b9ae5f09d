"""Scheduled discovery reports: one run per report and period (the claim that makes one replica
render it), the persisted schedule (APScheduler's job table) and the figures a report shows.
Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.paging import AnyColumn, PageRequest, PageRows, read_page
from collector.store.base import Base, JSONType, UTCDateTime, utcnow
from collector.store.inventory import InventoryItem, Sighting, Violation, ViolationDay


class ReportRun(Base):
    """One run of one report for one period; the unique pair is the run claim."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("report", "period", name="uq_report_runs_report_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|failed
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    outputs: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    deliveries: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)


#: APScheduler 3's SQLAlchemyJobStore table, declared here so that migrations create it and
#: the schema check knows it; the job store finds it present and leaves it alone.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


def claim_report_run(
    session: Session,
    *,
    report: str,
    period: str,
    trigger: str,
    claimed_by: str,
    stale_after: dt.timedelta = dt.timedelta(hours=1),
) -> ReportRun | None:
    """Claim one report period; return the run, or None when it is already claimed.

    The unique (report, period) pair makes the claim atomic across server replicas. The
    insert runs in a savepoint so that a lost race leaves the caller's transaction usable.
    A failed run, or one left "running" for longer than ``stale_after`` by a replica that
    died, is taken over by a conditional update (again atomic: one taker wins).
    """
    run = ReportRun(
        report=report, period=period, trigger=trigger, claimed_by=claimed_by, status="running"
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        now = utcnow()
        taken = session.execute(
            update(ReportRun)
            .where(
                ReportRun.report == report,
                ReportRun.period == period,
                or_(
                    ReportRun.status == "failed",
                    and_(ReportRun.status == "running", ReportRun.started_at < now - stale_after),
                ),
            )
            .values(status="running", claimed_by=claimed_by, started_at=now, error=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) != 1:
            return None
        return session.scalar(
            select(ReportRun)
            .where(ReportRun.report == report, ReportRun.period == period)
            .execution_options(populate_existing=True)
        )
    return run


def finish_report_run(
    session: Session,
    *,
    run_id: int,
    status: str,
    summary: dict[str, Any],
    outputs: list[Any],
    deliveries: list[Any],
    error: str | None = None,
) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound("report run", run_id)
    run.status = status
    run.summary = summary
    run.outputs = outputs
    run.deliveries = deliveries
    run.error = error
    run.finished_at = utcnow()
    return run


def list_report_runs(
    session: Session, *, report: str | None = None, limit: int = 100, offset: int = 0
) -> Sequence[ReportRun]:
    query = select(ReportRun).order_by(ReportRun.started_at.desc(), ReportRun.id.desc())
    if report is not None:
        query = query.where(ReportRun.report == report)
    return session.scalars(query.limit(limit).offset(offset)).all()


def page_report_runs(session: Session, *, page: PageRequest, status: str | None = None) -> PageRows:
    """Return one page of report runs (newest first by default) and how many there are."""
    query = select(ReportRun)
    if status:
        query = query.where(ReportRun.status == status)
    sorts: dict[str, AnyColumn] = {
        "started": ReportRun.started_at,
        "report": ReportRun.report,
        "status": ReportRun.status,
    }
    found = read_page(session, query, page=page, sorts=sorts, tiebreak=ReportRun.id)
    return PageRows(rows=[row[0] for row in found.rows], total=found.total)


def get_report_run(session: Session, *, run_id: int) -> ReportRun:
    run = session.get(ReportRun, run_id)
    if run is None:
        raise NotFound("report run", run_id)
    return run


# Discovery-report figures --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemUse:
    """An inventory item with how widely it is used."""

    item: InventoryItem
    host_count: int
    user_count: int
    last_seen_at: dt.datetime | None


def _item_use(session: Session, items: Sequence[InventoryItem]) -> list[ItemUse]:
    if not items:
        return []
    rows = session.execute(
        select(
            Sighting.item_id,
            func.count(func.distinct(Sighting.host_id)),
            func.count(func.distinct(Sighting.user_name)),
            func.max(Sighting.last_seen_at),
        )
        .where(Sighting.item_id.in_([item.id for item in items]))
        .group_by(Sighting.item_id)
    ).all()
    found = {row[0]: row for row in rows}
    return [
        ItemUse(
            item=item,
            host_count=found[item.id][1] if item.id in found else 0,
            user_count=found[item.id][2] if item.id in found else 0,
            last_seen_at=found[item.id][3] if item.id in found else None,
        )
        for item in items
    ]


def list_items_first_seen_between(
    session: Session, *, start: dt.datetime, end: dt.datetime
) -> list[ItemUse]:
    """Return items first seen in [start, end), most widely used first."""
    items = session.scalars(
        select(InventoryItem).where(
            InventoryItem.first_seen_at >= start, InventoryItem.first_seen_at < end
        )
    ).all()
    return sorted(_item_use(session, items), key=lambda use: (-use.host_count, use.item.name))


def list_items_in_state(session: Session, *, state: str) -> list[ItemUse]:
    """Return items in one triage state, oldest first."""
    items = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.state == state)
        .order_by(InventoryItem.first_seen_at, InventoryItem.id)
    ).all()
    return _item_use(session, items)


def list_items_seen_since(session: Session, *, state: str, since: dt.datetime) -> list[ItemUse]:
    """Return items in ``state`` with a sighting last seen at or after ``since``."""
    recent = select(Sighting.item_id).where(Sighting.last_seen_at >= since)
    items = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.state == state, InventoryItem.id.in_(recent))
        .order_by(InventoryItem.name)
    ).all()
    return _item_use(session, items)


def adoption_counts(session: Session, *, at: dt.datetime) -> tuple[int, int, int]:
    """Return (services, hosts, users) with at least one sighting first seen before ``at``."""
    row = session.execute(
        select(
            func.count(func.distinct(Sighting.item_id)),
            func.count(func.distinct(Sighting.host_id)),
            func.count(func.distinct(Sighting.user_name)),
        ).where(Sighting.first_seen_at < at)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def list_items_in_violation(
    session: Session, *, start: dt.datetime, end: dt.datetime
) -> list[ItemUse]:
    """Return the items with a violation of the register seen on a day in [start, end): how
    many hosts and users, and when last; the most widespread first."""
    first_day, last_day = start.date(), (end - dt.timedelta(microseconds=1)).date()
    rows = session.execute(
        select(
            Violation.item_id,
            func.count(func.distinct(Violation.host_id)),
            func.count(func.distinct(Violation.user_name)),
            func.max(Violation.last_seen_at),
        )
        .join(ViolationDay, ViolationDay.violation_id == Violation.id)
        .where(ViolationDay.day >= first_day, ViolationDay.day <= last_day)
        .group_by(Violation.item_id)
    ).all()
    if not rows:
        return []
    items = {
        item.id: item
        for item in session.scalars(
            select(InventoryItem).where(InventoryItem.id.in_([row[0] for row in rows]))
        )
    }
    uses = [
        ItemUse(
            item=items[item_id], host_count=int(hosts), user_count=int(users), last_seen_at=last
        )
        for item_id, hosts, users, last in rows
    ]
    return sorted(uses, key=lambda use: (-use.host_count, use.item.name))


def count_violations_between(session: Session, *, start: dt.date, end: dt.date) -> int:
    """Return how many violations were seen on at least one day in [start, end)."""
    return int(
        session.scalar(
            select(func.count(func.distinct(ViolationDay.violation_id))).where(
                ViolationDay.day >= start, ViolationDay.day < end
            )
        )
        or 0
    )
