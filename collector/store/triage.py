"""Triage of the draft inventory: the queue, each item's triage record and comments, and the
suppression rules false positives become. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, ForeignKey, String, Text, case, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.governance import GOVERNED_STATUSES, RESTRICTED
from collector.paging import AnyColumn, PageRequest, PageRows, read_page
from collector.store.base import LIKE_ESCAPE, Base, UTCDateTime, contains_pattern, utcnow
from collector.store.inventory import (
    MALICIOUS,
    InventoryItem,
    ItemFacet,
    RiskTable,
    Sighting,
    evidence_kinds,
    profile_accounts,
    risk_expression,
)
from collector.store.users import User


class TriageRecord(Base):
    """What triage decided about one draft inventory item (its state lives on the item)."""

    __tablename__ = "triage_records"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), primary_key=True
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    register_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("register_entries.id", ondelete="SET NULL"), index=True
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="SET NULL")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TriageComment(Base):
    """A reviewer's note on a draft inventory item."""

    __tablename__ = "triage_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("inventory_items.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionRule(Base):
    """A draft item marked false positive: its dedup key is dropped or hidden from then on."""

    __tablename__ = "suppression_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_key: Mapped[str] = mapped_column(String(300), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def get_triage_record(session: Session, *, item_id: int) -> TriageRecord:
    """Return the triage record of an item, creating an empty one on first use."""
    record = session.get(TriageRecord, item_id)
    if record is None:
        record = TriageRecord(item_id=item_id, reason="")
        session.add(record)
        session.flush()
    return record


def get_triage_records(session: Session, *, item_ids: Collection[int]) -> dict[int, TriageRecord]:
    """Return the triage records of existing items by item id, in one query; an item without
    one gets an empty record, added to the session (written at its next flush)."""
    if not item_ids:
        return {}
    query = select(TriageRecord).where(TriageRecord.item_id.in_(list(item_ids)))
    records = {record.item_id: record for record in session.scalars(query)}
    for item_id in item_ids:
        if item_id not in records:
            records[item_id] = TriageRecord(item_id=item_id, reason="")
            session.add(records[item_id])
    return records


@dataclass(frozen=True, slots=True)
class TriageRow:
    item: InventoryItem
    host_count: int
    user_count: int
    evidence_kinds: tuple[str, ...]
    assignee: str | None
    # The classes of the browser profiles it was seen in ("personal" first: what to look at).
    profile_accounts: tuple[str, ...] = ()


def list_triage_queue(
    session: Session,
    *,
    states: Sequence[str] | None = None,
    category: str | None = None,
    evidence_kind: str | None = None,
    min_hosts: int | None = None,
    first_seen_after: dt.datetime | None = None,
    search: str | None = None,
    assignee_id: int | None = None,
    profile_account: str | None = None,
    severity: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[TriageRow]:
    """Return draft items with roll-ups, filtered; malicious items first, then the oldest.

    ``profile_account`` keeps the items seen in a browser profile of that class ("personal").
    """
    host_count = func.count(func.distinct(Sighting.host_id))
    query = (
        select(
            InventoryItem,
            host_count,
            func.count(func.distinct(Sighting.user_name)),
            User.username,
        )
        .join(Sighting, Sighting.item_id == InventoryItem.id, isouter=True)
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id, isouter=True)
        .join(User, User.id == TriageRecord.assignee_id, isouter=True)
        .group_by(InventoryItem.id, User.username)
        .order_by(
            case((InventoryItem.severity == MALICIOUS, 0), else_=1),
            InventoryItem.first_seen_at,
            InventoryItem.id,
        )
        .limit(limit)
        .offset(offset)
    )
    if states:
        query = query.where(InventoryItem.state.in_(list(states)))
    if category:
        query = query.where(InventoryItem.category == category)
    if evidence_kind:
        having_kind = select(Sighting.item_id).where(Sighting.kind == evidence_kind)
        query = query.where(InventoryItem.id.in_(having_kind))
    if min_hosts:
        query = query.having(host_count >= min_hosts)
    if first_seen_after:
        query = query.where(InventoryItem.first_seen_at >= first_seen_after)
    if search:
        pattern = contains_pattern(search)
        query = query.where(
            or_(
                func.lower(InventoryItem.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(InventoryItem.vendor).like(pattern, escape=LIKE_ESCAPE),
                func.lower(InventoryItem.key).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    if assignee_id is not None:
        query = query.where(TriageRecord.assignee_id == assignee_id)
    if profile_account:
        in_profile = select(ItemFacet.item_id).where(
            ItemFacet.facet == "account", ItemFacet.value == profile_account
        )
        query = query.where(InventoryItem.id.in_(in_profile))
    if severity:
        query = query.where(InventoryItem.severity == severity)
    rows = session.execute(query).all()
    kinds = evidence_kinds(session, item_ids=[row[0].id for row in rows])
    accounts = profile_accounts(session, item_ids=[row[0].id for row in rows])
    return [
        TriageRow(
            item=item,
            host_count=hosts,
            user_count=users,
            evidence_kinds=kinds.get(item.id, ()),
            assignee=assignee,
            profile_accounts=accounts.get(item.id, ()),
        )
        for item, hosts, users, assignee in rows
    ]


@dataclass(frozen=True, slots=True)
class ItemFilters:
    """What a list of draft items is narrowed to; every filter combines with the others."""

    states: Sequence[str] | None = None
    exclude_states: Sequence[str] = ()
    category: str | None = None
    evidence_kind: str | None = None
    min_hosts: int | None = None
    first_seen_after: dt.datetime | None = None
    search: str | None = None
    assignee_id: int | None = None
    profile_account: str | None = None
    severity: str | None = None
    candidates: bool | None = None  # True: not in the catalogue; False: catalogue services
    governed_status: str | None = None  # the register's status ("" = not in the register)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A draft item on a list page, with its roll-ups, assignee and risk score."""

    item: InventoryItem
    host_count: int
    user_count: int
    evidence_kinds: tuple[str, ...]
    assignee: str | None
    risk: int
    profile_accounts: tuple[str, ...] = ()


#: The columns a list of draft items sorts on ("queue": malicious first, then the oldest).
ITEM_SORTS = (
    "queue", "name", "vendor", "category", "state", "hosts", "users", "risk",
    "first_seen", "last_seen", "assignee", "governed",
)  # fmt: skip


def page_items(
    session: Session, *, filters: ItemFilters, page: PageRequest, risk: RiskTable
) -> PageRows:
    """Return one page of draft items (ItemRow) matching ``filters`` and the true total.

    Host and user counts are the roll-ups kept at ingest, so neither filtering nor sorting on
    them counts sightings.
    """
    score = risk_expression(session, risk).label("risk")
    query = (
        select(InventoryItem, User.username, score)
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id, isouter=True)
        .join(User, User.id == TriageRecord.assignee_id, isouter=True)
        .execution_options(populate_existing=True)
    )
    counted = select(InventoryItem.id).join(
        TriageRecord, TriageRecord.item_id == InventoryItem.id, isouter=True
    )
    for condition in _item_conditions(filters):
        query = query.where(condition)
        counted = counted.where(condition)
    malicious_first = case((InventoryItem.severity == MALICIOUS, 0), else_=1)
    sorts: dict[str, AnyColumn] = {
        # The queue: malicious items first (whatever the direction), then by age.
        "queue": InventoryItem.first_seen_at,
        "name": func.lower(InventoryItem.name),
        "vendor": func.lower(InventoryItem.vendor),
        "category": InventoryItem.category,
        "state": InventoryItem.state,
        "hosts": InventoryItem.host_count,
        "users": InventoryItem.user_count,
        "risk": score,
        "first_seen": InventoryItem.first_seen_at,
        "last_seen": InventoryItem.last_seen_at,
        "assignee": User.username,
        # The register's statuses in their display order (not in the register last).
        "governed": case(
            {status: rank for rank, status in enumerate(GOVERNED_STATUSES)},
            value=InventoryItem.governed_status,
            else_=len(GOVERNED_STATUSES),
        ),
    }
    if page.sort == "queue":
        query = query.order_by(malicious_first)
    found = read_page(
        session, query, page=page, sorts=sorts, tiebreak=InventoryItem.id, count_query=counted
    )
    item_ids = [row[0].id for row in found.rows]
    kinds = evidence_kinds_of(session, item_ids=item_ids)
    accounts = profile_accounts(session, item_ids=item_ids)
    rows = [
        ItemRow(
            item=item,
            host_count=item.host_count,
            user_count=item.user_count,
            evidence_kinds=kinds.get(item.id, ()),
            assignee=assignee,
            risk=int(score_value),
            profile_accounts=accounts.get(item.id, ()),
        )
        for item, assignee, score_value in found.rows
    ]
    return PageRows(rows=rows, total=found.total)


def _item_conditions(filters: ItemFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.states:
        conditions.append(InventoryItem.state.in_(list(filters.states)))
    if filters.exclude_states:
        conditions.append(InventoryItem.state.not_in(list(filters.exclude_states)))
    if filters.category:
        conditions.append(InventoryItem.category == filters.category)
    if filters.evidence_kind:
        having_kind = select(ItemFacet.item_id).where(
            ItemFacet.facet == "kind", ItemFacet.value == filters.evidence_kind
        )
        conditions.append(InventoryItem.id.in_(having_kind))
    if filters.min_hosts:
        conditions.append(InventoryItem.host_count >= filters.min_hosts)
    if filters.first_seen_after:
        conditions.append(InventoryItem.first_seen_at >= filters.first_seen_after)
    if filters.search:
        pattern = contains_pattern(filters.search)
        conditions.append(
            or_(
                func.lower(InventoryItem.name).like(pattern, escape=LIKE_ESCAPE),
                func.lower(InventoryItem.vendor).like(pattern, escape=LIKE_ESCAPE),
                func.lower(InventoryItem.key).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    if filters.assignee_id is not None:
        conditions.append(TriageRecord.assignee_id == filters.assignee_id)
    if filters.profile_account:
        in_profile = select(ItemFacet.item_id).where(
            ItemFacet.facet == "account", ItemFacet.value == filters.profile_account
        )
        conditions.append(InventoryItem.id.in_(in_profile))
    if filters.severity:
        conditions.append(InventoryItem.severity == filters.severity)
    if filters.candidates is True:
        conditions.append(InventoryItem.service_id.is_(None))
    elif filters.candidates is False:
        conditions.append(InventoryItem.service_id.is_not(None))
    if filters.governed_status is not None:
        conditions.append(InventoryItem.governed_status == filters.governed_status)
    return conditions


def evidence_kinds_of(session: Session, *, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Return, per item, its evidence kinds from the roll-up facets (no sighting is read)."""
    if not item_ids:
        return {}
    found: dict[int, list[str]] = {}
    query = (
        select(ItemFacet.item_id, ItemFacet.value)
        .where(ItemFacet.item_id.in_(list(item_ids)), ItemFacet.facet == "kind")
        .order_by(ItemFacet.item_id, ItemFacet.value)
    )
    for item_id, value in session.execute(query):
        found.setdefault(item_id, []).append(value)
    return {item_id: tuple(values) for item_id, values in found.items()}


def create_comment(session: Session, *, item_id: int, author: str, body: str) -> TriageComment:
    comment = TriageComment(item_id=item_id, author=author, body=body)
    session.add(comment)
    session.flush()
    return comment


def list_comments(session: Session, *, item_id: int) -> Sequence[TriageComment]:
    query = select(TriageComment).where(TriageComment.item_id == item_id)
    return session.scalars(query.order_by(TriageComment.id)).all()


def list_items_of_entry(session: Session, *, entry_id: int) -> Sequence[InventoryItem]:
    query = (
        select(InventoryItem)
        .join(TriageRecord, TriageRecord.item_id == InventoryItem.id)
        .where(TriageRecord.register_entry_id == entry_id)
        .order_by(InventoryItem.name)
    )
    return session.scalars(query).all()


def govern_items_of_entry(
    session: Session, *, entry_id: int, status: str, allowed_departments: Sequence[str] = ()
) -> list[int]:
    """Give every item linked to a register entry the entry's status (and, restricted, the
    departments it allows); return their ids.

    The item rows are locked in id order first (the order ingest updates them in), so that a
    decision and a report naming the same items wait for each other instead of deadlocking.
    """
    linked = select(TriageRecord.item_id).where(TriageRecord.register_entry_id == entry_id)
    item_ids = list(
        session.scalars(
            select(InventoryItem.id)
            .where(InventoryItem.id.in_(linked))
            .order_by(InventoryItem.id)
            .with_for_update()
        )
    )
    if item_ids:
        session.execute(
            update(InventoryItem)
            .where(InventoryItem.id.in_(item_ids))
            .values(
                governed_status=status,
                allowed_departments=departments_text(status, allowed_departments),
                updated_at=utcnow(),
            )
        )
    return item_ids


def departments_text(status: str, allowed_departments: Sequence[str]) -> str:
    """The allowed departments an item carries: a JSON list for a restricted one, else ""."""
    if status != RESTRICTED or not allowed_departments:
        return ""
    return json.dumps(list(allowed_departments))


# Suppression rules ---------------------------------------------------------------------------


def get_suppression_rules(
    session: Session, *, item_keys: Collection[str]
) -> dict[str, SuppressionRule]:
    """Return the suppression rules of these dedup keys by key, in one query."""
    if not item_keys:
        return {}
    query = select(SuppressionRule).where(SuppressionRule.item_key.in_(list(item_keys)))
    return {rule.item_key: rule for rule in session.scalars(query)}


def add_suppression_rule(
    session: Session, *, item_key: str, reason: str, created_by: str
) -> SuppressionRule:
    """Suppress a dedup key the caller found unsuppressed (get_suppression_rules); the rule is
    written at the session's next flush."""
    rule = SuppressionRule(item_key=item_key, reason=reason, created_by=created_by)
    session.add(rule)
    return rule


def delete_suppression_rule(session: Session, *, rule: SuppressionRule) -> None:
    """Lift a suppression rule; the row is deleted at the session's next flush."""
    session.delete(rule)


def list_suppression_rules(session: Session) -> Sequence[SuppressionRule]:
    return session.scalars(select(SuppressionRule).order_by(SuppressionRule.id.desc())).all()
