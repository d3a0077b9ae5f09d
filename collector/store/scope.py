"""The AIMS scope statement (ISO/IEC 42001 clause 4.3): versioned, never edited in place; the
newest version is the scope in force. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, JSONType, UTCDateTime, utcnow

#: The kinds of AI use a scope can include (ISO/IEC 22989 roles, in plain words).
AI_USE_KINDS = ("used", "provided", "developed")


class ScopeStatement(Base):
    """One version of the AIMS scope: who and what is covered, what is not, and why."""

    __tablename__ = "aims_scope_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    owner: Mapped[str] = mapped_column(String(120))
    business_units: Mapped[list[str]] = mapped_column(JSONType, default=list)
    locations: Mapped[list[str]] = mapped_column(JSONType, default=list)
    ai_use_kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)
    exclusions: Mapped[str] = mapped_column(Text, default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def current_scope(session: Session) -> ScopeStatement | None:
    """Return the scope in force (the newest version), or None before the first one."""
    return session.scalar(select(ScopeStatement).order_by(ScopeStatement.version.desc()).limit(1))


def list_scope_versions(session: Session) -> Sequence[ScopeStatement]:
    """Return every scope version, newest first."""
    return session.scalars(select(ScopeStatement).order_by(ScopeStatement.version.desc())).all()


def create_scope_statement(
    session: Session,
    *,
    owner: str,
    business_units: list[str],
    locations: list[str],
    ai_use_kinds: list[str],
    exclusions: str,
    rationale: str,
    created_by: str,
) -> ScopeStatement:
    """Add the next version of the scope (call with the audit chain lock held)."""
    latest = current_scope(session)
    statement = ScopeStatement(
        version=(latest.version + 1) if latest else 1,
        owner=owner,
        business_units=business_units,
        locations=locations,
        ai_use_kinds=ai_use_kinds,
        exclusions=exclusions,
        rationale=rationale,
        created_by=created_by,
    )
    session.add(statement)
    session.flush()
    return statement
