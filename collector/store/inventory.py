"""The draft inventory: items (one per service or unknown candidate), their sightings, the
roll-ups ingest keeps on them (facets, daily trend), the governed status the register gives
them, and violations of the register (with their days, the trend); and the queries that read
them. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Select, Subquery

from collector.errors import NotFound
from collector.governance import UNGOVERNED
from collector.paging import points_of_present_keys, score_by_key
from collector.store.base import Base, JSONType, UTCDateTime, utcnow
from collector.store.hosts import Host, HostRisk, ItemHost, RiskBand

# Item severities (signatures.Severity values, kept as plain text in storage).
NORMAL = "normal"
MALICIOUS = "malicious"


class InventoryItem(Base):
    """One AI service (or one unknown candidate) in the draft inventory."""

    __tablename__ = "inventory_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    service_id: Mapped[str | None] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(255))
    vendor: Mapped[str] = mapped_column(String(255), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(32), default="new", index=True)
    # What the register decided about it (collector.governance), set only by the register for
    # every item linked to an entry; "" while it is linked to none.
    governed_status: Mapped[str] = mapped_column(
        String(16), default="", server_default="", index=True
    )
    # For a restricted item: the departments its entry allows, as a JSON list (text, decoded
    # only for restricted items at ingest); "" otherwise. Set with governed_status.
    allowed_departments: Mapped[str] = mapped_column(Text, default="", server_default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Roll-ups maintained incrementally at ingest (collector.ingest), never counted on a page view.
    host_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    user_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sighting_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    violation_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_violation_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # "malicious" when the collector's catalogue carries a published report on the service
    # (signatures.Catalogue.severity_of), set and kept current at ingest; else "normal".
    severity: Mapped[str] = mapped_column(
        String(16), default=NORMAL, server_default=NORMAL, index=True
    )


class Sighting(Base):
    """A service seen on one host, by one user, through one channel and indicator."""

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint(
            "item_id", "host_id", "kind", "indicator", "user_name", name="uq_sightings_identity"
        ),
        Index("ix_sightings_host_item", "host_id", "item_id"),
        # An item's page lists its newest sightings first.
        Index("ix_sightings_item_seen", "item_id", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id", ondelete="CASCADE"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str] = mapped_column(String(1024))
    indicator_kind: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str] = mapped_column(String(256), default="")
    confidence: Mapped[str] = mapped_column(String(8))
    heuristic: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    # For a browser extension: the class of the account its profile is signed in with
    # (PROFILE_ACCOUNTS); "" when the evidence does not say.
    profile_account: Mapped[str] = mapped_column(String(16), default="", server_default="")


# The classes of a browser profile's signed-in account an agent reports (agent evidence
# ``profile_account``), kept on the sighting and as the item's "account" facet.
PROFILE_ACCOUNTS = ("personal", "other", "corporate", "none")


class ItemFacet(Base):
    """One distinct value an item was seen with: an evidence kind, browser, department, user,
    browser profile account, process name or domain."""

    __tablename__ = "item_facets"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), primary_key=True)


# Daily counters are split over this many rows per item and day (by host id), so that the
# first reports of a new day from many hosts do not queue on one row lock.
DAILY_SHARDS = 16


class ItemDaily(Base):
    """How many distinct hosts showed an item on one (UTC) day (summed over shards): the trend."""

    __tablename__ = "item_daily"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    host_count: Mapped[int] = mapped_column(Integer, default=0)


class Violation(Base):
    """An item seen, after the register prohibited it (or restricted it to other departments),
    on one host, by one user, through one channel (evidence kind)."""

    __tablename__ = "violations"
    __table_args__ = (
        UniqueConstraint(
            "item_id", "host_id", "user_name", "channel", name="uq_violations_identity"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id", ondelete="CASCADE"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    user_name: Mapped[str] = mapped_column(String(256), default="")
    channel: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # collector.governance.VIOLATION_REASONS; the department seen, for one outside conditions.
    reason: Mapped[str] = mapped_column(
        String(32), default="prohibited", server_default="prohibited"
    )
    department: Mapped[str] = mapped_column(String(256), default="", server_default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When its webhook event and emails were queued; None until then (server/webhooks).
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)


class ViolationDay(Base):
    """A (UTC) day on which a violation was seen: prohibited use still happening, the trend."""

    __tablename__ = "violation_days"

    violation_id: Mapped[int] = mapped_column(
        ForeignKey("violations.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """An inventory item with its roll-up figures (kept on the item, see collector.ingest)."""

    item: InventoryItem
    host_count: int
    user_count: int
    sighting_count: int
    evidence_kinds: tuple[str, ...]
    browsers: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    violation_count: int = 0
    # The classes of the browser profiles it was seen in (PROFILE_ACCOUNTS order).
    profile_accounts: tuple[str, ...] = ()


def list_inventory(
    session: Session, *, state: str | None = None, limit: int = 500, offset: int = 0
) -> list[InventoryRow]:
    """Return draft inventory items with host, user and evidence roll-ups, newest first."""
    query = (
        select(InventoryItem)
        .order_by(InventoryItem.last_seen_at.desc(), InventoryItem.id)
        .limit(limit)
        .offset(offset)
        # Roll-ups are updated by Core statements at ingest: never serve stale copies.
        .execution_options(populate_existing=True)
    )
    if state is not None:
        query = query.where(InventoryItem.state == state)
    items = session.scalars(query).all()
    facets = _facets(session, [item.id for item in items])
    return [_inventory_row(item, facets.get(item.id, {})) for item in items]


def count_inventory(session: Session, *, state: str | None = None) -> int:
    """Return how many items the inventory holds (in one triage state)."""
    query = select(func.count()).select_from(InventoryItem)
    if state is not None:
        query = query.where(InventoryItem.state == state)
    return int(session.scalar(query) or 0)


def get_inventory_row(session: Session, *, item_id: int) -> InventoryRow:
    """Return one item with its roll-ups; raises NotFound."""
    item = get_inventory_item(session, item_id=item_id)
    return _inventory_row(item, _facets(session, [item.id]).get(item.id, {}))


def _inventory_row(item: InventoryItem, facets: dict[str, list[str]]) -> InventoryRow:
    return InventoryRow(
        item=item,
        host_count=item.host_count,
        user_count=item.user_count,
        sighting_count=item.sighting_count,
        evidence_kinds=tuple(facets.get("kind", ())),
        browsers=tuple(facets.get("browser", ())),
        departments=tuple(facets.get("department", ())),
        violation_count=item.violation_count,
        profile_accounts=_ordered_accounts(facets.get("account", ())),
    )


def _ordered_accounts(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(account for account in PROFILE_ACCOUNTS if account in values)


def profile_accounts(session: Session, *, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Return, per item, the classes of the browser profiles it was seen in."""
    if not item_ids:
        return {}
    found: dict[int, list[str]] = {}
    query = select(ItemFacet.item_id, ItemFacet.value).where(
        ItemFacet.item_id.in_(list(item_ids)), ItemFacet.facet == "account"
    )
    for item_id, value in session.execute(query):
        found.setdefault(item_id, []).append(value)
    return {item_id: _ordered_accounts(values) for item_id, values in found.items()}


# The facets a list row shows (users, processes and domains can be many: the item page's).
_LIST_FACETS = ("kind", "browser", "account", "department")


def item_facet_values(
    session: Session, *, item_id: int, facet: str, limit: int = 50, count: bool = True
) -> tuple[list[str], int]:
    """Return the first ``limit`` values of one facet of an item, sorted, and how many it has
    (without ``count``, only how many were read: for a facet whose roll-up counts it)."""
    condition = and_(ItemFacet.item_id == item_id, ItemFacet.facet == facet)
    values = session.scalars(
        select(ItemFacet.value).where(condition).order_by(ItemFacet.value).limit(limit)
    ).all()
    if len(values) < limit or not count:
        return list(values), len(values)
    total = session.scalar(select(func.count()).select_from(ItemFacet).where(condition)) or 0
    return list(values), int(total)


def item_host_sample(session: Session, *, item_id: int, limit: int = 20) -> list[tuple[int, str]]:
    """Return (host id, hostname) of up to ``limit`` hosts that show an item, by hostname."""
    return list(
        _host_samples(
            session,
            [item_id],
            lambda wanted: (
                select(ItemHost.host_id)
                .where(ItemHost.item_id == wanted)
                .order_by(ItemHost.host_id)
                .limit(limit)
            ),
        ).get(item_id, ())
    )


def count_item_sightings(session: Session, *, item_id: int) -> int:
    """Return how many sightings of an item are stored (the item page pages through them)."""
    query = select(func.count()).select_from(Sighting).where(Sighting.item_id == item_id)
    return int(session.scalar(query) or 0)


def _facets(session: Session, item_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Return the evidence kinds, browsers and departments of some items, sorted."""
    if not item_ids:
        return {}
    found: dict[int, dict[str, list[str]]] = {}
    query = (
        select(ItemFacet.item_id, ItemFacet.facet, ItemFacet.value)
        .where(ItemFacet.item_id.in_(item_ids), ItemFacet.facet.in_(_LIST_FACETS))
        .order_by(ItemFacet.item_id, ItemFacet.facet, ItemFacet.value)
    )
    for item_id, facet, value in session.execute(query):
        found.setdefault(item_id, {}).setdefault(facet, []).append(value)
    return found


def item_names(session: Session, *, item_ids: Sequence[int]) -> dict[int, str]:
    """Return the names of some items by id (pages and the audit trail name what changed)."""
    if not item_ids:
        return {}
    query = select(InventoryItem.id, InventoryItem.name).where(
        InventoryItem.id.in_(list(set(item_ids)))
    )
    return {int(item_id): str(name) for item_id, name in session.execute(query)}


def items_by_id(session: Session, *, item_ids: Sequence[int]) -> dict[int, InventoryItem]:
    """Return some items by id, read in one statement (a host's page lists a hundred)."""
    if not item_ids:
        return {}
    query = select(InventoryItem).where(InventoryItem.id.in_(sorted(set(item_ids))))
    return {item.id: item for item in session.scalars(query)}


def get_inventory_item(session: Session, *, item_id: int) -> InventoryItem:
    item = session.get(InventoryItem, item_id, populate_existing=True)
    if item is None:
        raise NotFound("inventory item", item_id)
    return item


def get_inventory_items(session: Session, *, item_ids: Collection[int]) -> dict[int, InventoryItem]:
    """Return the items of these ids that exist, by id, read afresh in one query."""
    if not item_ids:
        return {}
    query = (
        select(InventoryItem)
        .where(InventoryItem.id.in_(list(item_ids)))
        .execution_options(populate_existing=True)
    )
    return {item.id: item for item in session.scalars(query)}


def list_item_trend(
    session: Session, *, item_id: int, days: int = 90, today: dt.date | None = None
) -> list[tuple[dt.date, int]]:
    """Return (day, distinct hosts) for the last ``days`` days, zero-filled, oldest first."""
    today = today or utcnow().date()
    since = today - dt.timedelta(days=days - 1)
    rows = session.execute(
        select(ItemDaily.day, func.sum(ItemDaily.host_count))
        .where(ItemDaily.item_id == item_id, ItemDaily.day >= since)
        .group_by(ItemDaily.day)
    )
    counts: dict[dt.date, int] = {}
    for day, count in rows:
        counts[day] = int(count)
    return [(day, counts.get(day, 0)) for day in _days(since, today)]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def list_violations(
    session: Session,
    *,
    item_id: int | None = None,
    host_id: int | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> list[tuple[Violation, Host]]:
    """Return violations (a forbidden item seen again), newest first; ``since`` keeps those
    last seen at or after it."""
    query = (
        select(Violation, Host)
        .join(Host, Host.id == Violation.host_id)
        .order_by(Violation.last_seen_at.desc(), Violation.id)
        .limit(limit)
    )
    if item_id is not None:
        query = query.where(Violation.item_id == item_id)
    if host_id is not None:
        query = query.where(Violation.host_id == host_id)
    if since is not None:
        query = query.where(Violation.last_seen_at >= since)
    return [(violation, host) for violation, host in session.execute(query).all()]


def governed_counts_by_host(
    session: Session, *, host_ids: Sequence[int] | None = None
) -> dict[int, dict[str, int]]:
    """Return, per host (of ``host_ids``, or every host), how many of the items seen there
    carry each governed status."""
    # item_hosts holds one row per item seen on a host (kept after sightings are pruned): a
    # plain count, read through its host_id index, instead of a distinct count over sightings.
    query = (
        select(ItemHost.host_id, InventoryItem.governed_status, func.count())
        .join(InventoryItem, InventoryItem.id == ItemHost.item_id)
        .group_by(ItemHost.host_id, InventoryItem.governed_status)
    )
    if host_ids is not None:
        if not host_ids:
            return {}
        query = query.where(ItemHost.host_id.in_(list(host_ids)))
    rows = session.execute(query).all()
    found: dict[int, dict[str, int]] = {}
    for host_id, status, count in rows:
        found.setdefault(int(host_id), {})[str(status)] = int(count)
    return found


def count_violations_by_host(session: Session) -> dict[int, int]:
    """Return, per host, how many violations were recorded there."""
    rows = session.execute(
        select(Violation.host_id, func.count(Violation.id)).group_by(Violation.host_id)
    ).all()
    return {int(host_id): int(count) for host_id, count in rows}


@dataclass(frozen=True, slots=True)
class ViolationSummary:
    """A forbidden item still in use: where, by how many, and when last."""

    item: InventoryItem
    hosts: tuple[tuple[int, str], ...]  # (host id, hostname), by hostname: at most HOST_SAMPLE
    users: int
    channels: tuple[str, ...]
    last_seen_at: dt.datetime
    host_count: int = 0  # every host, of which ``hosts`` names the first HOST_SAMPLE


#: How many hosts a dashboard line names before "and N more" (the item page lists them all).
HOST_SAMPLE = 10


def summarise_violations(
    session: Session, *, since: dt.datetime, host_id: int | None = None, limit: int = 100
) -> list[ViolationSummary]:
    """Return, per item, the violations last seen at or after ``since`` (on one host, or on
    all), the most widespread first: counted in SQL, with a sample of the hosts named."""
    conditions = [Violation.last_seen_at >= since]
    if host_id is not None:
        conditions.append(Violation.host_id == host_id)
    host_count = func.count(func.distinct(Violation.host_id))
    grouped = session.execute(
        select(
            Violation.item_id,
            host_count,
            func.count(func.distinct(Violation.user_name)),
            func.max(Violation.last_seen_at),
        )
        .where(*conditions)
        .group_by(Violation.item_id)
        .order_by(host_count.desc(), Violation.item_id)
        .limit(limit)
    ).all()
    if not grouped:
        return []
    item_ids = [int(row[0]) for row in grouped]
    items = {
        item.id: item
        for item in session.scalars(select(InventoryItem).where(InventoryItem.id.in_(item_ids)))
    }
    channels: dict[int, set[str]] = {}
    for item_id, channel in session.execute(
        select(Violation.item_id, Violation.channel)
        .where(*conditions, Violation.item_id.in_(item_ids))
        .distinct()
    ):
        channels.setdefault(int(item_id), set()).add(str(channel))
    samples = _host_samples(
        session,
        item_ids,
        lambda item_id: (
            select(Violation.host_id)
            .where(*conditions, Violation.item_id == item_id)
            .distinct()
            .order_by(Violation.host_id)
            .limit(HOST_SAMPLE)
        ),
    )
    summaries = [
        ViolationSummary(
            item=items[int(item_id)],
            hosts=samples.get(int(item_id), ()),
            users=int(users),
            channels=tuple(sorted(channels.get(int(item_id), ()))),
            last_seen_at=last_seen,
            host_count=int(hosts),
        )
        for item_id, hosts, users, last_seen in grouped
    ]
    summaries.sort(key=lambda summary: (-summary.host_count, summary.item.name))
    return summaries


def count_violation_hosts(session: Session, *, since: dt.datetime) -> int:
    """Return how many hosts show a violation last seen at or after ``since``."""
    query = select(func.count(func.distinct(Violation.host_id))).where(
        Violation.last_seen_at >= since
    )
    return int(session.scalar(query) or 0)


def _by_name(host: tuple[int, str]) -> tuple[str, int]:
    return host[1], host[0]


def _host_samples(
    session: Session, item_ids: Sequence[int], hosts_of: Callable[[int], Select[Any]]
) -> dict[int, tuple[tuple[int, str], ...]]:
    """Return, per item, (host id, hostname) of the hosts ``hosts_of(item)`` selects (a
    bounded query each, on an index), by hostname."""
    sampled: dict[int, list[int]] = {
        item_id: list(session.scalars(hosts_of(item_id))) for item_id in item_ids
    }
    names = dict(
        session.execute(
            select(Host.id, Host.hostname).where(
                Host.id.in_(sorted({host for hosts in sampled.values() for host in hosts}))
            )
        ).all()
    )
    return {
        item_id: tuple(sorted(((host, names[host]) for host in hosts), key=_by_name))
        for item_id, hosts in sampled.items()
    }


def list_violation_trend(
    session: Session,
    *,
    days: int = 28,
    today: dt.date | None = None,
    item_id: int | None = None,
    host_id: int | None = None,
) -> list[tuple[dt.date, int]]:
    """Return (day, violations seen that day) for the last ``days`` days, zero-filled, oldest
    first: prohibited use still happening, or not."""
    today = today or utcnow().date()
    since = today - dt.timedelta(days=days - 1)
    query = (
        select(ViolationDay.day, func.count())
        .join(Violation, Violation.id == ViolationDay.violation_id)
        .where(ViolationDay.day >= since, ViolationDay.day <= today)
        .group_by(ViolationDay.day)
    )
    if item_id is not None:
        query = query.where(Violation.item_id == item_id)
    if host_id is not None:
        query = query.where(Violation.host_id == host_id)
    counts = {day: int(count) for day, count in session.execute(query)}
    return [(day, counts.get(day, 0)) for day in _days(since, today)]


def list_sightings(
    session: Session,
    *,
    item_id: int | None = None,
    host_id: int | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[tuple[Sighting, Host]]:
    """Return sightings (with their host) of one item or one host, newest first."""
    conditions = []
    if item_id is not None:
        conditions.append(Sighting.item_id == item_id)
    if host_id is not None:
        conditions.append(Sighting.host_id == host_id)
    query = (
        select(Sighting, Host)
        .join(Host, Host.id == Sighting.host_id)
        .where(and_(*conditions))
        .order_by(Sighting.last_seen_at.desc(), Sighting.id)
        .limit(limit)
        .offset(offset)
    )
    return [(sighting, host) for sighting, host in session.execute(query).all()]


def list_host_sightings(
    session: Session, *, host_id: int, limit: int = 1000
) -> list[tuple[Sighting, InventoryItem]]:
    """Return what was found on one host (each sighting with its item), newest first."""
    query = (
        select(Sighting, InventoryItem)
        .join(InventoryItem, InventoryItem.id == Sighting.item_id)
        .where(Sighting.host_id == host_id)
        .order_by(Sighting.last_seen_at.desc(), Sighting.id)
        .limit(limit)
    )
    return [(sighting, item) for sighting, item in session.execute(query).all()]


def count_items_by_vendor(session: Session) -> dict[str, int]:
    """Return how many inventory items each (non-empty) vendor name has."""
    rows = session.execute(
        select(InventoryItem.vendor, func.count(InventoryItem.id))
        .where(InventoryItem.vendor != "")
        .group_by(InventoryItem.vendor)
    ).all()
    return {str(vendor): int(items) for vendor, items in rows}


def count_items_by_state(session: Session) -> dict[str, int]:
    """Return how many inventory items each triage state has."""
    rows = session.execute(
        select(InventoryItem.state, func.count(InventoryItem.id)).group_by(InventoryItem.state)
    ).all()
    return {str(state): int(count) for state, count in rows}


def list_categories(session: Session) -> list[str]:
    query = select(InventoryItem.category).where(InventoryItem.category != "").distinct()
    return sorted(session.scalars(query).all())


def evidence_kinds(session: Session, *, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Return, per item, the evidence kinds of its stored sightings, sorted."""
    if not item_ids:
        return {}
    found: dict[int, set[str]] = {}
    for item_id, kind in session.execute(
        select(Sighting.item_id, Sighting.kind).where(Sighting.item_id.in_(item_ids)).distinct()
    ):
        found.setdefault(item_id, set()).add(kind)
    return {item_id: tuple(sorted(kinds)) for item_id, kinds in found.items()}


def items_first_seen_since(session: Session, *, since: dt.datetime) -> list[dt.datetime]:
    query = select(InventoryItem.first_seen_at).where(InventoryItem.first_seen_at >= since)
    return list(session.scalars(query).all())


def host_first_seen_for_item(session: Session, *, item_id: int) -> dict[int, dt.datetime]:
    """Return, per host, when the item was first seen there."""
    query = (
        select(Sighting.host_id, func.min(Sighting.first_seen_at))
        .where(Sighting.item_id == item_id)
        .group_by(Sighting.host_id)
    )
    return dict(session.execute(query).all())


def kind_first_seen_for_item(session: Session, *, item_id: int) -> dict[str, dt.datetime]:
    """Return, per evidence kind, when it was first seen for the item."""
    query = (
        select(Sighting.kind, func.min(Sighting.first_seen_at))
        .where(Sighting.item_id == item_id)
        .group_by(Sighting.kind)
    )
    return dict(session.execute(query).all())


def department_first_seen_for_item(session: Session, *, item_id: int) -> dict[str, dt.datetime]:
    """Return, per department of the hosts showing the item, when it was first seen there."""
    query = (
        select(Host.department, func.min(Sighting.first_seen_at))
        .join(Host, Host.id == Sighting.host_id)
        .where(Sighting.item_id == item_id, Host.department != "")
        .group_by(Host.department)
    )
    return dict(session.execute(query).all())


def list_inventory_page(
    session: Session, *, after_id: int = 0, state: str | None = None, limit: int = 500
) -> list[InventoryRow]:
    """Return up to ``limit`` items with ids above ``after_id``, in id order, with their
    roll-ups: one page of a full read (exports) that no concurrent insert can shift."""
    query = (
        select(InventoryItem)
        .where(InventoryItem.id > after_id)
        .order_by(InventoryItem.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if state is not None:
        query = query.where(InventoryItem.state == state)
    items = session.scalars(query).all()
    facets = _facets(session, [item.id for item in items])
    return [_inventory_row(item, facets.get(item.id, {})) for item in items]


@dataclass(frozen=True, slots=True)
class MaliciousSighting:
    """A malicious item and the hosts it was seen on."""

    item: InventoryItem
    hosts: tuple[tuple[int, str], ...]  # (host id, hostname), by hostname: at most HOST_SAMPLE


def list_malicious_items(session: Session, *, limit: int = 50) -> list[MaliciousSighting]:
    """Return the malicious items (most recently seen first), each with a sample of the hosts
    that show it (``item.host_count`` counts them all)."""
    items = session.scalars(
        select(InventoryItem)
        .where(InventoryItem.severity == MALICIOUS)
        .order_by(InventoryItem.last_seen_at.desc(), InventoryItem.id)
        .limit(limit)
    ).all()
    samples = _host_samples(
        session,
        [item.id for item in items],
        lambda item_id: (
            select(ItemHost.host_id)
            .where(ItemHost.item_id == item_id)
            .order_by(ItemHost.host_id)
            .limit(HOST_SAMPLE)
        ),
    )
    return [MaliciousSighting(item, samples.get(item.id, ())) for item in items]


def count_malicious_hosts(session: Session) -> int:
    """Return how many hosts show at least one malicious item."""
    return (
        session.scalar(
            select(func.count(func.distinct(ItemHost.host_id)))
            .join(InventoryItem, InventoryItem.id == ItemHost.item_id)
            .where(InventoryItem.severity == MALICIOUS)
        )
        or 0
    )


def list_item_hostnames(session: Session, *, item_id: int, limit: int = 100) -> list[str]:
    """Return the names of the hosts an item was seen on, sorted, at most ``limit``."""
    return list(
        session.scalars(
            select(Host.hostname)
            .join(Sighting, Sighting.host_id == Host.id)
            .where(Sighting.item_id == item_id)
            .distinct()
            .order_by(Host.hostname)
            .limit(limit)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class RiskTable:
    """The points of the risk score that SQL needs to sort on it (server.inventory.risk owns
    the rules): ``base`` plus the points of the item's service (``candidate_points`` for an
    item with no catalogue service), of its triage state and of its governed status (the
    register's decision; ``violation_points`` instead when the item has a recorded violation
    under that status), kept within ``base``..``malicious``; malicious items score
    ``malicious``."""

    service_points: Mapping[str, int]
    candidate_points: int
    state_points: Mapping[str, int]
    governed_points: Mapping[str, int] = field(default_factory=dict)
    violation_points: Mapping[str, int] = field(default_factory=dict)
    base: int = 1
    malicious: int = 10


def _within(session: Session, value: ColumnElement[int], low: int, high: int) -> ColumnElement[int]:
    """Return ``value`` kept within low..high (SQLite's two-argument min/max, else LEAST and
    GREATEST, which PostgreSQL has)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.min(func.max(value, low), high)
    return func.least(func.greatest(value, low), high)


def risk_expression(session: Session, table: RiskTable) -> ColumnElement[int]:
    """Return the SQL expression of an inventory item's risk score (see server.inventory.risk).

    Only the services the inventory holds are spelled out (a catalogue lists thousands), the
    most common score of them as the ELSE; a service the catalogue does not know scores as a
    candidate, as server.inventory.risk.score_item does.
    """
    return _within(session, _risk_points(session, table), table.base, table.malicious)


def _risk_points(session: Session, table: RiskTable) -> ColumnElement[int]:
    """The risk score before it is kept within its bounds (malicious items: ``malicious``)."""
    service_part = case(
        (InventoryItem.service_id.is_(None), table.candidate_points),
        else_=points_of_present_keys(
            session,
            InventoryItem.service_id,
            table.service_points,
            unknown=table.candidate_points,
        ),
    )
    state_part = score_by_key(InventoryItem.state, table.state_points, otherwise=0)
    # Most items are in no register entry: that test first. A violation recorded under a
    # status that forbids the use (prohibited, restricted outside its departments) replaces
    # the status's points.
    governed_part = case(
        (InventoryItem.governed_status == UNGOVERNED, table.governed_points.get(UNGOVERNED, 0)),
        *[
            (
                and_(
                    InventoryItem.governed_status == status,
                    InventoryItem.last_violation_at.is_not(None),
                ),
                points,
            )
            for status, points in sorted(table.violation_points.items())
        ],
        else_=score_by_key(InventoryItem.governed_status, table.governed_points, otherwise=0),
    )
    return case(
        (InventoryItem.severity == MALICIOUS, table.malicious),
        else_=table.base + service_part + state_part + governed_part,
    )


def find_items_by_name(session: Session, *, name: str, limit: int = 2) -> list[int]:
    """Return the ids of items with this name (case-insensitive), at most ``limit``."""
    query = (
        select(InventoryItem.id)
        .where(func.lower(InventoryItem.name) == name.strip().lower())
        .order_by(InventoryItem.id)
        .limit(limit)
    )
    return list(session.scalars(query).all())


def merge_target_names(session: Session, *, except_item_id: int, limit: int = 2000) -> list[str]:
    """Return the names of items another can be merged into (not merged, not false positive)."""
    query = (
        select(InventoryItem.name)
        .where(
            InventoryItem.id != except_item_id,
            InventoryItem.state.not_in(("merged", "false_positive")),
        )
        .order_by(InventoryItem.name)
        .distinct()
        .limit(limit)
    )
    return list(session.scalars(query).all())


def host_risk(session: Session, table: RiskTable) -> HostRisk:
    """Return how the hosts list scores hosts: a host's risk is the highest risk score of the
    items it shows (``item_hosts``, kept after sightings are pruned)."""

    def of_hosts() -> Subquery:
        return (
            # Keeping within bounds commutes with the highest: once per host, not per item.
            select(
                ItemHost.host_id,
                _within(
                    session, func.max(_risk_points(session, table)), table.base, table.malicious
                ).label("risk"),
            )
            .join(InventoryItem, InventoryItem.id == ItemHost.item_id)
            .group_by(ItemHost.host_id)
            .subquery()
        )

    def bands() -> list[RiskBand]:
        by_score: dict[int, list[tuple[int, int]]] = {}
        for item_id, hosts, score in session.execute(
            select(InventoryItem.id, InventoryItem.host_count, risk_expression(session, table))
        ):
            by_score.setdefault(int(score), []).append((item_id, hosts or 0))
        found = []
        for score, items in sorted(by_score.items()):
            widest, widest_hosts = max(items, key=lambda item: (item[1], -item[0]))
            found.append(
                RiskBand(
                    score=score,
                    item_ids=tuple(item_id for item_id, _ in items),
                    reach=sum(hosts for _, hosts in items),
                    widest=widest,
                    widest_hosts=widest_hosts,
                )
            )
        return found

    return HostRisk(of_hosts=of_hosts, bands=bands)
