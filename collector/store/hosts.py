"""Hosts: what each says about itself in its reports, its department, and which inventory items it
shows (``item_hosts``, kept after sightings are pruned). Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Select,
    String,
    bindparam,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Subquery

from collector.errors import NotFound
from collector.paging import MAX_PAGE_SIZE, AnyColumn, PageRequest, PageRows, read_page
from collector.store.base import (
    LIKE_ESCAPE,
    Base,
    JSONType,
    UTCDateTime,
    contains_pattern,
    utcnow,
)


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
    # How many inventory items the host shows (its item_hosts rows), kept by collector ingest,
    # the only writer of item_hosts, so that the hosts list can sort on it.
    item_count: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        # The hosts list's two usual orders, most items and latest report first (the tie
        # broken by id, ascending, as collector.paging.read_page does), read off an index. On
        # PostgreSQL the migration adds NULLS LAST, as read_page orders (SQLite's DESC already
        # puts NULL last and accepts no NULLS LAST in an index).
        Index("ix_hosts_item_count", item_count.desc(), id),
        Index("ix_hosts_last_report_desc", last_report_at.desc(), id),
        # Ingest checks that no other host has the reported name, ignoring case, on every
        # report; without it that check reads every host (44 ms a report at 20,000 hosts).
        Index("ix_hosts_hostname_lower", func.lower(hostname)),
        # The hosts list's filter choices (host_facets), read off the index alone.
        Index("ix_hosts_facets", os, department, agent_version),
    )


class ItemHost(Base):
    """That an item was seen on a host, and on which days first and last; kept after pruning."""

    __tablename__ = "item_hosts"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    host_id: Mapped[int] = mapped_column(
        ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True
    )
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)

    __table_args__ = (
        # A host's items, from the index alone: the hosts list sorted by risk asks, host by
        # host, whether one of its items is among those of a risk score.
        Index("ix_item_hosts_host_item", host_id, item_id),
    )


@dataclass(frozen=True, slots=True)
class HostRow:
    host: Host
    item_count: int
    stale: bool


def list_hosts(session: Session, *, stale_after: dt.timedelta) -> list[HostRow]:
    """Return every host with how many inventory items it shows and whether it went quiet."""
    now = utcnow()
    hosts = session.scalars(
        select(Host).order_by(Host.hostname, Host.id).execution_options(populate_existing=True)
    ).all()
    return [
        HostRow(host=host, item_count=host.item_count, stale=_stale(host, now, stale_after))
        for host in hosts
    ]


def count_hosts(session: Session, *, stale_after: dt.timedelta) -> tuple[int, int]:
    """Return (hosts, hosts reporting within ``stale_after``), counted in SQL."""
    since = utcnow() - stale_after
    total = session.scalar(select(func.count()).select_from(Host)) or 0
    reporting = session.scalar(select(func.count()).where(Host.last_report_at >= since)) or 0
    return int(total), int(reporting)


def get_host_row(session: Session, *, host_id: int, stale_after: dt.timedelta) -> HostRow:
    """Return one host with its item count and staleness; raises NotFound."""
    host = get_host(session, host_id=host_id)
    return HostRow(host=host, item_count=host.item_count, stale=_stale(host, utcnow(), stale_after))


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


@dataclass(frozen=True, slots=True)
class HostFilters:
    """What the hosts list is narrowed to; every filter combines with the others."""

    search: str | None = None  # in the hostname
    stale: bool | None = None  # True: stopped reporting; False: reporting
    os: str | None = None
    department: str | None = None  # "-" : no department set
    agent_version: str | None = None
    has_violations: bool | None = None


@dataclass(frozen=True, slots=True)
class HostListRow:
    host: Host
    item_count: int
    violation_count: int
    stale: bool
    risk: int | None = None  # the highest risk score of the items it shows


@dataclass(frozen=True, slots=True)
class RiskBand:
    """The inventory items of one risk score."""

    score: int
    item_ids: tuple[int, ...]
    reach: int  # how many hosts show these items, added up item by item (hosts can repeat)
    widest: int  # the id of the one on the most hosts
    widest_hosts: int  # how many


@dataclass(frozen=True, slots=True)
class HostRisk:
    """How the hosts list scores hosts (a host's risk is the highest risk score of the items
    it shows), from collector.store.inventory.host_risk, which this module cannot import:
    ``of_hosts`` builds a subquery of (host_id, risk), read for one page's hosts; ``bands``
    reads every item's score, grouped by score, for sorting on risk. Each is built only when
    the list needs it."""

    of_hosts: Callable[[], Subquery]
    bands: Callable[[], Sequence[RiskBand]]


# The host column of collector.store.inventory's violations (which imports this module).
_VIOLATION_HOSTS = table("violations", column("host_id"))

HOST_SORTS = ("hostname", "os", "department", "agent_version", "items", "violations",
              "first_seen", "last_report", "risk")  # fmt: skip


def page_hosts(
    session: Session,
    *,
    filters: HostFilters,
    page: PageRequest,
    stale_after: dt.timedelta,
    risk: HostRisk | None = None,
) -> PageRows:
    """Return one page of hosts (HostListRow) matching ``filters``, with the true total.

    Without ``risk`` (collector.store.inventory.host_risk), rows carry no risk and the list
    cannot be sorted on it (ValueError).
    """
    now = utcnow()
    stale_before = now - stale_after
    items = Host.item_count.label("items")
    violation_count = (
        select(func.count())
        .where(_VIOLATION_HOSTS.c.host_id == Host.id)
        .scalar_subquery()
        .label("violations")
    )
    query = select(Host, items, violation_count).execution_options(populate_existing=True)
    counted = select(Host.id)
    conditions: list[ColumnElement[bool]] = []
    if filters.search:
        conditions.append(
            func.lower(Host.hostname).like(contains_pattern(filters.search), escape=LIKE_ESCAPE)
        )
    if filters.stale is True:
        conditions.append(or_(Host.last_report_at.is_(None), Host.last_report_at < stale_before))
    elif filters.stale is False:
        conditions.append(Host.last_report_at >= stale_before)
    if filters.os:
        conditions.append(Host.os == filters.os)
    if filters.department == "-":
        conditions.append(Host.department == "")
    elif filters.department:
        conditions.append(Host.department == filters.department)
    if filters.agent_version:
        conditions.append(Host.agent_version == filters.agent_version)
    if filters.has_violations is not None:
        with_violations = exists().where(_VIOLATION_HOSTS.c.host_id == Host.id)
        conditions.append(with_violations if filters.has_violations else ~with_violations)
    for condition in conditions:
        query = query.where(condition)
        counted = counted.where(condition)
    scores: dict[int, int] = {}
    if page.sort == "risk":
        if risk is None:
            raise ValueError("sorting hosts on risk needs the items' risk scores")
        found = _page_by_risk(session, query, counted, conditions, page=page, bands=risk.bands())
        for row, score in zip(found.rows, found.scores, strict=True):
            if score is not None:
                scores[row[0].id] = score
        rows_found: Sequence[Any] = found.rows
        total = found.total
    else:
        sorts: dict[str, AnyColumn] = {
            "hostname": func.lower(Host.hostname),
            "os": Host.os,
            "department": Host.department,
            "agent_version": Host.agent_version,
            "items": Host.item_count,
            "violations": violation_count,
            "first_seen": Host.first_seen_at,
            "last_report": Host.last_report_at,
        }
        read = read_page(
            session, query, page=page, sorts=sorts, tiebreak=Host.id, count_query=counted
        )
        rows_found, total = read.rows, read.total
        if risk is not None and rows_found:
            page_ids = [row[0].id for row in rows_found]
            of_hosts = risk.of_hosts()
            for host_id, score in session.execute(
                select(of_hosts.c.host_id, of_hosts.c.risk).where(of_hosts.c.host_id.in_(page_ids))
            ):
                scores[host_id] = int(score)
    rows = [
        HostListRow(
            host=host,
            item_count=int(count),
            violation_count=int(violations),
            stale=_stale(host, now, stale_after),
            risk=scores.get(host.id),
        )
        for host, count, violations in rows_found
    ]
    return PageRows(rows=rows, total=total)


@dataclass(frozen=True, slots=True)
class _RiskPage:
    rows: Sequence[Any]
    scores: Sequence[int | None]
    total: int


def _page_by_risk(
    session: Session,
    query: Select[Any],
    counted: Select[Any],
    conditions: Sequence[ColumnElement[bool]],
    *,
    page: PageRequest,
    bands: Sequence[RiskBand],
) -> _RiskPage:
    """One page of hosts by risk (then by id, as read_page breaks ties; hosts showing no item
    last either way), read band by band instead of scoring every host.

    A host's risk is the highest score of its items, and there are at most ten scores: the
    hosts of score s are those showing an item of score s and none of a higher one. Each band
    is read in id order only as far as the page needs, from whichever side costs less: the
    band's own item_hosts rows when its items are on few hosts, else host by host in id order
    (each asked, off the (host_id, item_id) index, whether it shows an item of the band).
    Sorting on a grouped highest score instead reads all of item_hosts (6.6 million rows at
    100,000 hosts: 2.8 s).
    """
    limit = max(1, min(page.limit, MAX_PAGE_SIZE))
    offset = max(0, page.offset)
    wanted = offset + limit
    total = int(session.scalar(select(func.count()).select_from(counted.subquery())) or 0)
    ordered = sorted(bands, key=lambda band: band.score, reverse=page.descending)
    found: list[tuple[int, int | None]] = []
    left: dict[int, list[int]] = {}
    for band in [*ordered, None]:
        if len(found) >= wanted:
            break
        ids = select(Host.id).where(*conditions)
        host: AnyColumn = Host.id
        if band is None:
            # Hosts showing no item (ingest keeps item_count; the index on it is ordered by id).
            ids = ids.where(Host.item_count == 0)
        else:
            narrowed = _band_hosts(
                session, ids, band, bands, remaining=wanted - len(found), total=total, left=left
            )
            if narrowed is None:
                continue
            ids, host = narrowed
        found.extend(
            (host_id, None if band is None else band.score)
            for host_id in session.scalars(ids.order_by(host).limit(wanted - len(found)))
        )
    chosen = found[offset:wanted]
    if not chosen:
        return _RiskPage(rows=[], scores=[], total=total)
    chosen_ids = [host_id for host_id, _ in chosen]
    by_id = {row[0].id: row for row in session.execute(query.where(Host.id.in_(chosen_ids)))}
    kept = [(by_id[host_id], score) for host_id, score in chosen if host_id in by_id]
    return _RiskPage(
        rows=[row for row, _ in kept], scores=[score for _, score in kept], total=total
    )


#: When the widest item of a higher score leaves at most this many hosts, their ids are read
#: once for every lower band of the page, instead of an anti-join per band.
FEW_LEFT = 5_000


def _band_hosts(
    session: Session,
    ids: Select[Any],
    band: RiskBand,
    bands: Sequence[RiskBand],
    *,
    remaining: int,
    total: int,
    left: dict[int, list[int]],
) -> tuple[Select[Any], AnyColumn] | None:
    """Narrow ``ids`` (the listed hosts' ids) to the hosts whose highest score is ``band``'s;
    return the query and its host id column, to order on (None: no host can be in it).
    ``left`` keeps, by item id, the hosts not showing that item, read once per page."""
    higher = [other for other in bands if other.score > band.score]
    population = min(band.reach, total)
    host: AnyColumn = Host.id
    if higher:
        # Hosts showing the widest item of a higher score are out: one anti-join on that item's
        # own rows, before asking the rest host by host. When it is on nearly every host, as
        # the most widespread services are, few hosts remain.
        widest = max(higher, key=lambda other: other.widest_hosts)
        lacking = ids.where(
            ~exists().where(
                ItemHost.host_id == Host.id,
                ItemHost.item_id == bindparam(None, widest.widest, literal_execute=True),
            )
        ).order_by(Host.id)
        higher_items = [item for other in higher for item in other.item_ids]
        if total - widest.widest_hosts <= FEW_LEFT:
            if widest.widest not in left:
                left[widest.widest] = list(session.scalars(lacking))
            if not left[widest.widest]:
                return None
            ids = select(Host.id).where(
                _among(Host.id, left[widest.widest]), _shows_none_of(higher_items, Host.id, bands)
            )
        else:
            # OFFSET 0: PostgreSQL keeps the subquery apart, so the anti-join runs first and
            # the questions below are asked of the hosts it leaves.
            kept = lacking.offset(0).subquery()
            host = kept.c.id
            ids = select(host).where(_shows_none_of(higher_items, host, bands))
        population = min(population, max(1, total - widest.widest_hosts))
    # Host by host, about remaining * total / population hosts are asked before enough are
    # found (all of them at most; cheap ones once the widest higher item has ruled most out);
    # from the band's side, its reach in item_hosts rows is read.
    steps = min(total, remaining * total / max(1, population)) * (0.2 if higher else 1)
    if band.reach <= steps:
        members = select(ItemHost.host_id).where(_among(ItemHost.item_id, band.item_ids))
        return ids.where(host.in_(members)), host
    return ids.where(~_shows_none_of(band.item_ids, host, bands)), host


def _among(item: AnyColumn, item_ids: Sequence[int]) -> ColumnElement[bool]:
    """``item`` is one of ``item_ids``, the ids written into the statement (a band can hold
    thousands of items: more than SQLite takes as parameters, and PostgreSQL hashes a list of
    constants)."""
    return item.in_(bindparam(None, list(item_ids), expanding=True, literal_execute=True))


def _shows_none_of(
    item_ids: Sequence[int], host: AnyColumn, bands: Sequence[RiskBand]
) -> ColumnElement[bool]:
    """The host shows none of these items: asked host by host (a subquery with LIMIT, which
    neither backend turns into a join over all of item_hosts). The items are named, or, when
    fewer, the other items of ``bands`` are ("an item not among those"): the top band can
    hold thousands of items, the rest a few hundred."""
    chosen = set(item_ids)
    others = [item for band in bands for item in band.item_ids if item not in chosen]
    among = (
        _among(ItemHost.item_id, item_ids)
        if len(item_ids) <= len(others)
        else ~_among(ItemHost.item_id, others)
    )
    return (
        select(literal(1))
        .where(ItemHost.host_id == host, among)
        .limit(1)
        .scalar_subquery()
        .is_(None)
    )


def host_facets(session: Session) -> dict[str, list[str]]:
    """Return the distinct operating systems, departments and agent versions of the hosts (one
    pass over the hosts, not one per column)."""
    found: dict[str, set[str]] = {"os": set(), "department": set(), "agent_version": set()}
    for os_name, department, version in session.execute(
        select(Host.os, Host.department, Host.agent_version).distinct()
    ):
        found["os"].add(os_name)
        found["department"].add(department)
        found["agent_version"].add(version)
    return {name: sorted(value for value in values if value) for name, values in found.items()}
