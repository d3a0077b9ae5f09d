"""SQLAlchemy models: hosts, agents, reports, sightings, inventory items and their roll-ups,
violations, users and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | reviewer | viewer
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser session; only the hash of its cookie value is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class EnrollmentToken(Base):
    """A secret an admin hands to IT so agents can enroll; stored as a hash."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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


class Agent(Base):
    """An enrolled agent: its self-generated id, its hashed credential and its host."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_uid: Mapped[str] = mapped_column(String(128), unique=True)
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollment_tokens.id", ondelete="SET NULL")
    )
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    host: Mapped[Host] = relationship(lazy="joined")


class Report(Base):
    """One received report; its id makes a retried upload idempotent."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_uid: Mapped[str] = mapped_column(String(36), unique=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)


# The triage state that turns every new sighting of an item into a violation.
PROHIBITED = "prohibited"


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


class Sighting(Base):
    """A service seen on one host, by one user, through one channel and indicator."""

    __tablename__ = "sightings"
    __table_args__ = (
        UniqueConstraint(
            "item_id", "host_id", "kind", "indicator", "user_name", name="uq_sightings_identity"
        ),
        Index("ix_sightings_host_item", "host_id", "item_id"),
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


class ItemFacet(Base):
    """One distinct value an item was seen with: an evidence kind, browser, department or user."""

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
    """A prohibited item seen on a host by a user after it was prohibited."""

    __tablename__ = "violations"
    __table_args__ = (
        UniqueConstraint("item_id", "host_id", "user_name", name="uq_violations_identity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id", ondelete="CASCADE"))
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    user_name: Mapped[str] = mapped_column(String(256), default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
