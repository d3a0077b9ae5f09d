"""Hosts: what each says about itself in its reports, its department, and which inventory items it
shows (``item_hosts``, kept after sightings are pruned). Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow


class Host(Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    os: Mapped[str] = mapped_column(String(16))
    os_version: Mapped[str] = mapped_column(String(255), default="")
    arch: Mapped[str] = mapped_column(String(64), default="")
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    catalogue_version: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_report_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    health: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    scanner_errors: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Set by an admin (API); rolled up per inventory item so a reviewer sees who uses what.
    department: Mapped[str] = mapped_column(String(128), default="", server_default="")


class ItemHost(Base):
    """That an item was seen on a host, and on which days first and last; kept after pruning."""

    __tablename__ = "item_hosts"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    host_id: Mapped[int] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)


@dataclass(frozen=True, slots=True)
class HostRow:
    host: Host
    item_count: int
    stale: bool


def list_hosts(session: Session, *, stale_after: dt.timedelta) -> list[HostRow]:
    """Return every host with how many inventory items it shows and whether it went quiet."""
    per_host = select(ItemHost.host_id, func.count()).group_by(ItemHost.host_id)
    counts: dict[int, int] = {row[0]: row[1] for row in session.execute(per_host)}
    now = utcnow()
    hosts = session.scalars(
        select(Host).order_by(Host.hostname, Host.id).execution_options(populate_existing=True)
    ).all()
    return [
        HostRow(host=host, item_count=counts.get(host.id, 0), stale=_stale(host, now, stale_after))
        for host in hosts
    ]


def get_host_row(session: Session, *, host_id: int, stale_after: dt.timedelta) -> HostRow:
    """Return one host with its item count and staleness; raises NotFound."""
    host = get_host(session, host_id=host_id)
    count = session.scalar(select(func.count()).where(ItemHost.host_id == host_id)) or 0
    return HostRow(host=host, item_count=count, stale=_stale(host, utcnow(), stale_after))


def _stale(host: Host, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    return host.last_report_at is None or now - host.last_report_at > stale_after


def get_host(session: Session, *, host_id: int) -> Host:
    host = session.get(Host, host_id, populate_existing=True)
    if host is None:
        raise NotFound("host", host_id)
    return host


def update_host(session: Session, *, host_id: int, department: str) -> Host:
    """Set a host's department (rolled up per item from its next report); raises NotFound."""
    host = get_host(session, host_id=host_id)
    host.department = department.strip()
    session.flush()
    return host
