"""The Statement of Applicability (ISO/IEC 42001 6.1.3): what an admin decided for each Annex A
control. Controls without a row keep the defaults the server derives from the data.
Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Boolean, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, JSONType, UTCDateTime, utcnow


class SoaDecision(Base):
    __tablename__ = "aims_soa_decisions"

    control_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    applicable: Mapped[bool] = mapped_column(Boolean, default=True)
    justification: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), default="")
    evidence_links: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def get_soa_decision(session: Session, *, control_id: str) -> SoaDecision | None:
    return session.get(SoaDecision, control_id)


def list_soa_decisions(session: Session) -> Sequence[SoaDecision]:
    return session.scalars(select(SoaDecision).order_by(SoaDecision.control_id)).all()


def save_soa_decision(session: Session, *, control_id: str, **fields: object) -> SoaDecision:
    decision = session.get(SoaDecision, control_id)
    if decision is None:
        decision = SoaDecision(control_id=control_id, **fields)
        session.add(decision)
    else:
        for name, value in fields.items():
            setattr(decision, name, value)
        decision.updated_at = utcnow()
    session.flush()
    return decision
