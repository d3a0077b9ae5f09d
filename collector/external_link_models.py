"""The ids other systems gave to what Shadowmap pushed to them (one row per remote object),
with a hash of what was last sent so that an unchanged object is not sent again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from collector.models import Base, UTCDateTime, utcnow

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
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
