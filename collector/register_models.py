"""Tables of the governed side: triage records and comments, suppression rules, the AI register
and the append-only, hash-chained audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from collector.models import Base, JSONType, UTCDateTime, utcnow


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


class RegisterEntry(Base):
    """One governed AI use: an AI system x purpose x business unit (ISO/IEC 42001 A.4.2, A.9.4)."""

    __tablename__ = "register_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[str] = mapped_column(String(16), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="under_review", index=True)
    title: Mapped[str] = mapped_column(String(120))
    ai_system: Mapped[str] = mapped_column(String(255))
    service_id: Mapped[str | None] = mapped_column(String(128), index=True)
    business_unit: Mapped[str] = mapped_column(String(120), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    business_owner: Mapped[str] = mapped_column(String(120), default="")
    technical_owner: Mapped[str] = mapped_column(String(120), default="")
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_level: Mapped[str] = mapped_column(String(16), default="unrated")
    risk_rationale: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_conditions: Mapped[str] = mapped_column(Text, default="")
    decision_rationale: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    controls: Mapped[str] = mapped_column(Text, default="")
    review_cadence_months: Mapped[int] = mapped_column(Integer, default=12)
    last_reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    next_review_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    dpia_screening: Mapped[str] = mapped_column(String(24), default="not_screened")
    supplier: Mapped[str] = mapped_column(String(255), default="")
    supplier_review: Mapped[str] = mapped_column(String(32), default="not_started")
    eu_ai_act_class: Mapped[str] = mapped_column(String(32), default="not_assessed")
    human_oversight: Mapped[str] = mapped_column(String(32), default="n/a_assistive")
    scope_status: Mapped[str] = mapped_column(String(16), default="in_scope")
    scope_rationale: Mapped[str] = mapped_column(Text, default="")
    evidence_links: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class AuditEvent(Base):
    """One change, append-only; ``hash`` = SHA-256(previous hash + canonical JSON of the event)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32), index=True)
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
