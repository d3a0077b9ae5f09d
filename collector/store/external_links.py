"""The ids other systems gave to what Shadowmap pushed to them (one row per remote object), with
a hash of what was last sent so that an unchanged object is not sent again. Keyword-only; the
caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, JSONType, UTCDateTime, utcnow

#: ``state`` of a link: still fed by Shadowmap, or left behind (its entry left the pushed
#: statuses or the control it came from was removed) and marked so on the remote side.
LINK_STATES = ("active", "withdrawn")


class ExternalLink(Base):
    """One object in an external system (e.g. a CISO Assistant asset) made from a local record."""

    __tablename__ = "external_links"
    __table_args__ = (UniqueConstraint("system", "object_type", "local_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    # e.g. "AIR-2026-0001" or "AIR-2026-0001/control/2": stable for the life of the record.
    local_id: Mapped[str] = mapped_column(String(64))
    # The register entry it belongs to, for listing everything pushed for one entry.
    register_id: Mapped[str] = mapped_column(String(16), index=True)
    remote_id: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the canonical JSON last sent; equal means nothing to send.
    remote_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active")
    # The fields last sent, so that a push can tell an edit made on the remote side (drift)
    # from one made in Shadowmap; None for links recorded before migration 0008.
    sent: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def list_external_links(
    session: Session, *, system: str, register_id: str | None = None
) -> Sequence[ExternalLink]:
    """Return the links of one system (optionally of one register entry), by local id."""
    query = select(ExternalLink).where(ExternalLink.system == system)
    if register_id is not None:
        query = query.where(ExternalLink.register_id == register_id)
    return session.scalars(query.order_by(ExternalLink.local_id)).all()


def get_external_link(
    session: Session, *, system: str, object_type: str, local_id: str
) -> ExternalLink | None:
    query = select(ExternalLink).where(
        ExternalLink.system == system,
        ExternalLink.object_type == object_type,
        ExternalLink.local_id == local_id,
    )
    return session.scalar(query)


def upsert_external_link(
    session: Session,
    *,
    system: str,
    object_type: str,
    local_id: str,
    register_id: str,
    remote_id: str,
    remote_hash: str,
    state: str = "active",
    sent: dict[str, Any] | None = None,
) -> ExternalLink:
    """Record (or replace) the remote object made from a local record; raises ValueError."""
    if state not in LINK_STATES:
        raise ValueError(f"unknown link state {state!r}")
    link = get_external_link(session, system=system, object_type=object_type, local_id=local_id)
    if link is None:
        link = ExternalLink(
            system=system,
            object_type=object_type,
            local_id=local_id,
            register_id=register_id,
            remote_id=remote_id,
            remote_hash=remote_hash,
            state=state,
            sent=sent,
        )
        session.add(link)
    else:
        link.remote_id = remote_id
        link.remote_hash = remote_hash
        link.state = state
        if sent is not None:
            link.sent = sent
        link.updated_at = utcnow()
    session.flush()
    return link
