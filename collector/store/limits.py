"""Ingest limits: how many new inventory items each agent created in the current clock hour,
and the last time one of its reports hit a limit (what was deferred). Ingest writes these rows
(collector/ingest.py); the host page and API read them. Keyword-only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.agents import Agent
from collector.store.base import Base, JSONType, UTCDateTime


class IngestQuota(Base):
    """One agent's count of new items in the current hour and its last limit hit."""

    __tablename__ = "ingest_quotas"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    new_items: Mapped[int] = mapped_column(Integer, default=0)
    limited_reports: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_limited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # {"report_id", "limits": [{"limit", "maximum", "deferred_items", "deferred_findings"}]}
    last_limited: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


def list_host_limit_hits(session: Session, *, host_id: int) -> list[IngestQuota]:
    """Return the quota rows of the host's agents that ever hit a limit, latest hit first."""
    query = (
        select(IngestQuota)
        .join(Agent, Agent.id == IngestQuota.agent_id)
        .where(Agent.host_id == host_id, IngestQuota.last_limited_at.is_not(None))
        .order_by(IngestQuota.last_limited_at.desc())
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query).all())
