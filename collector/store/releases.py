"""Agent releases offered to agents (signed manifests, staged rollout) and each agent's update
state per release. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.store.base import Base, JSONType, UTCDateTime, utcnow

ReleaseState = Literal["rolling-out", "halted"]
UpdateState = Literal["offered", "installed", "refused", "rolled-back"]


class AgentRelease(Base):
    """One agent version for one platform: its signed manifest, package file and rollout."""

    __tablename__ = "agent_releases"
    __table_args__ = (UniqueConstraint("platform", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[str] = mapped_column(Text)
    package_path: Mapped[str] = mapped_column(String(1024))
    rollout_percent: Mapped[int] = mapped_column(Integer, default=0)
    rollout_tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    state: Mapped[str] = mapped_column(String(16), default="rolling-out")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentUpdateState(Base):
    """Where one agent stands with one release: offered, installed, refused or rolled back."""

    __tablename__ = "agent_update_states"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    release_id: Mapped[int] = mapped_column(
        ForeignKey("agent_releases.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_release(
    session: Session,
    *,
    version: str,
    platform: str,
    manifest: str,
    package_path: str,
    rollout_percent: int,
    rollout_tags: list[str],
) -> AgentRelease:
    release = AgentRelease(
        version=version,
        platform=platform,
        manifest=manifest,
        package_path=package_path,
        rollout_percent=rollout_percent,
        rollout_tags=rollout_tags,
        state="rolling-out",
    )
    session.add(release)
    session.flush()
    return release


def get_release(session: Session, *, platform: str, version: str) -> AgentRelease | None:
    query = select(AgentRelease).where(
        AgentRelease.platform == platform, AgentRelease.version == version
    )
    return session.scalars(query).first()


def get_release_by_id(session: Session, *, release_id: int) -> AgentRelease | None:
    return session.get(AgentRelease, release_id)


def list_releases(session: Session, *, platform: str | None = None) -> list[AgentRelease]:
    query = select(AgentRelease).order_by(AgentRelease.created_at, AgentRelease.id)
    if platform is not None:
        query = query.where(AgentRelease.platform == platform)
    return list(session.scalars(query).all())


def get_update_state(
    session: Session, *, agent_id: int, release_id: int
) -> AgentUpdateState | None:
    return session.get(AgentUpdateState, (agent_id, release_id))


def upsert_update_state(
    session: Session, *, agent_id: int, release_id: int, state: UpdateState, detail: str = ""
) -> AgentUpdateState:
    row = session.get(AgentUpdateState, (agent_id, release_id))
    if row is None:
        row = AgentUpdateState(agent_id=agent_id, release_id=release_id)
        session.add(row)
    row.state = state
    row.detail = detail[:500]
    row.updated_at = utcnow()
    session.flush()
    return row


def list_update_states(session: Session, *, release_id: int) -> list[AgentUpdateState]:
    query = (
        select(AgentUpdateState)
        .where(AgentUpdateState.release_id == release_id)
        .order_by(AgentUpdateState.agent_id)
    )
    return list(session.scalars(query).all())


def list_host_update_states(
    session: Session, *, host_id: int
) -> list[tuple[AgentUpdateState, AgentRelease]]:
    """Return the update states of a host's agents with their releases, newest first."""
    from collector.store.agents import Agent

    query = (
        select(AgentUpdateState, AgentRelease)
        .join(AgentRelease, AgentRelease.id == AgentUpdateState.release_id)
        .join(Agent, Agent.id == AgentUpdateState.agent_id)
        .where(Agent.host_id == host_id)
        .order_by(AgentUpdateState.updated_at.desc(), AgentRelease.id.desc())
    )
    return [(state, release) for state, release in session.execute(query).all()]
