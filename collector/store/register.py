"""The AI register: one entry per governed AI use (ISO/IEC 42001 A.4.2, A.9.4) and the queries
that read it. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow


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


def next_register_id(session: Session, *, year: int) -> str:
    """Return the next free id like AIR-2026-0001 (call with the audit chain lock held)."""
    prefix = f"AIR-{year}-"
    # Longest first, so AIR-2026-10000 comes after AIR-2026-9999.
    last = session.scalar(
        select(RegisterEntry.register_id)
        .where(RegisterEntry.register_id.like(f"{prefix}%"))
        .order_by(func.length(RegisterEntry.register_id).desc(), RegisterEntry.register_id.desc())
        .limit(1)
    )
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def create_register_entry(session: Session, *, register_id: str, **fields: Any) -> RegisterEntry:
    entry = RegisterEntry(register_id=register_id, **fields)
    session.add(entry)
    session.flush()
    return entry


def get_register_entry(session: Session, *, register_id: str) -> RegisterEntry:
    """Return an entry by its register id; raises NotFound."""
    entry = session.scalar(select(RegisterEntry).where(RegisterEntry.register_id == register_id))
    if entry is None:
        raise NotFound("register entry", register_id)
    return entry


def list_register_entries(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    risk_level: str | None = None,
    search: str | None = None,
    due_before: dt.date | None = None,
    limit: int = 500,
    offset: int = 0,
) -> Sequence[RegisterEntry]:
    """Return register entries, filtered, by register id."""
    query = select(RegisterEntry).order_by(RegisterEntry.register_id).limit(limit).offset(offset)
    if statuses:
        query = query.where(RegisterEntry.status.in_(list(statuses)))
    if risk_level:
        query = query.where(RegisterEntry.risk_level == risk_level)
    if due_before is not None:
        query = query.where(RegisterEntry.next_review_on <= due_before)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(RegisterEntry.title).like(pattern),
                func.lower(RegisterEntry.ai_system).like(pattern),
                func.lower(RegisterEntry.register_id).like(pattern),
                func.lower(RegisterEntry.business_unit).like(pattern),
            )
        )
    return session.scalars(query).all()


def count_entries_by_status(session: Session) -> dict[str, int]:
    query = select(RegisterEntry.status, func.count(RegisterEntry.id)).group_by(
        RegisterEntry.status
    )
    return dict(session.execute(query).all())
