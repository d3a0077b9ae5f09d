"""Approval routes (ISO/IEC 42001 A.9.2, A.3.2): rules that say which assessments and whose
sign-offs a register entry needs before it may be approved; and the sign-offs given.
Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, JSONType, UTCDateTime, utcnow

SEQUENTIAL = "sequential"
PARALLEL = "parallel"


class ApprovalRoute(Base):
    """A rule: entries matching every criterion set need these assessments and sign-offs.

    An empty criterion matches anything; ``personal_data``, ``customer_facing`` and
    ``decision_support`` True match only entries with that flag. ``approvers`` are steps
    like ``role:reviewer`` or ``user:dana``.
    """

    __tablename__ = "aims_approval_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    risk_levels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_support: Mapped[bool] = mapped_column(Boolean, default=False)
    suppliers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    eu_ai_act_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    assessments: Mapped[list[str]] = mapped_column(JSONType, default=list)
    approvers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    mode: Mapped[str] = mapped_column(String(16), default=SEQUENTIAL)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Signoff(Base):
    """One approver's sign-off on an entry for one step of a route, in the current review
    round; a new review round makes the earlier ones inactive."""

    __tablename__ = "aims_signoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[str] = mapped_column(String(16), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("aims_approval_routes.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(140))
    signed_by: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # approved | rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_route(session: Session, **fields: object) -> ApprovalRoute:
    route = ApprovalRoute(**fields)
    session.add(route)
    session.flush()
    return route


def get_route(session: Session, *, route_id: int) -> ApprovalRoute:
    route = session.get(ApprovalRoute, route_id)
    if route is None:
        raise NotFound("approval route", route_id)
    return route


def get_route_by_name(session: Session, *, name: str) -> ApprovalRoute | None:
    return session.scalar(select(ApprovalRoute).where(ApprovalRoute.name == name))


def list_routes(session: Session, *, active_only: bool = False) -> Sequence[ApprovalRoute]:
    query = select(ApprovalRoute).order_by(ApprovalRoute.name)
    if active_only:
        query = query.where(ApprovalRoute.active.is_(True))
    return session.scalars(query).all()


def create_signoff(session: Session, **fields: object) -> Signoff:
    signoff = Signoff(**fields)
    session.add(signoff)
    session.flush()
    return signoff


def list_signoffs(
    session: Session, *, register_id: str | None = None, active_only: bool = True
) -> Sequence[Signoff]:
    """Return sign-offs (of one entry, or all), oldest first."""
    query = select(Signoff).order_by(Signoff.id)
    if register_id is not None:
        query = query.where(Signoff.register_id == register_id)
    if active_only:
        query = query.where(Signoff.active.is_(True))
    return session.scalars(query).all()


def retire_signoffs(session: Session, *, register_id: str) -> int:
    """Make an entry's sign-offs inactive (a new review round starts); return how many."""
    result = session.execute(
        update(Signoff)
        .where(Signoff.register_id == register_id, Signoff.active.is_(True))
        .values(active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
