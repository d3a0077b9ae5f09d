"""Queries of the external links. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.external_link_models import LINK_STATES, ExternalLink
from collector.models import utcnow


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
        )
        session.add(link)
    else:
        link.remote_id = remote_id
        link.remote_hash = remote_hash
        link.state = state
        link.updated_at = utcnow()
    session.flush()
    return link
