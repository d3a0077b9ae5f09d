"""Tables of the agent runtime: the machine each agent id is bound to (cloned-VM detection)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from collector.models import Base, UTCDateTime, utcnow


class AgentMachine(Base):
    """The machine fingerprint an agent id first enrolled or reported from.

    A report under the same agent id from another fingerprint comes from a clone (a copied
    state directory); the collector answers 409 and that agent takes a new identity.
    """

    __tablename__ = "agent_machines"

    agent_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
