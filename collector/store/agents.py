"""Agents and how they get in: enrollment tokens, enrolled agents and their credentials, the
machine each agent id is bound to (cloned-VM detection), the reports they sent, and the
stand-in agents of imported logs. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from collector.credentials import hash_secret, new_secret
from collector.errors import (
    AuthenticationFailed,
    EnrollmentRefused,
    IdentityConflict,
    NotFound,
    ReenrollmentRefused,
)
from collector.store.base import Base, UTCDateTime, utcnow
from collector.store.hosts import Host


class EnrollmentToken(Base):
    """A secret an admin hands to IT so agents can enroll; stored as a hash."""

    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Agent(Base):
    """An enrolled agent: its self-generated id, its hashed credential and its host."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_uid: Mapped[str] = mapped_column(String(128), unique=True)
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollment_tokens.id", ondelete="SET NULL")
    )
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Until then the agent id may enroll again without its current credential (an admin's
    # approval, for an agent that lost its credential or was revoked); used once.
    reenroll_approved_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    host: Mapped[Host] = relationship(lazy="joined")


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


class Report(Base):
    """One received report; its id, unique per agent, makes a retried upload idempotent."""

    __tablename__ = "reports"
    # Per agent: another agent reusing a report id must not have its report taken for a retry.
    __table_args__ = (
        UniqueConstraint("agent_id", "report_uid", name="uq_reports_agent_id_report_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_uid: Mapped[str] = mapped_column(String(36))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)


def create_enrollment_token(
    session: Session,
    *,
    name: str,
    expires_at: dt.datetime | None,
    max_uses: int | None,
) -> tuple[EnrollmentToken, str]:
    """Create an enrollment token; return it and the secret, which is shown only once."""
    secret = new_secret("smet_")
    token = EnrollmentToken(
        name=name, token_hash=hash_secret(secret), expires_at=expires_at, max_uses=max_uses
    )
    session.add(token)
    session.flush()
    return token, secret


def list_enrollment_tokens(session: Session) -> Sequence[EnrollmentToken]:
    return session.scalars(select(EnrollmentToken).order_by(EnrollmentToken.id)).all()


def revoke_enrollment_token(session: Session, *, token_id: int) -> EnrollmentToken:
    token = session.get(EnrollmentToken, token_id)
    if token is None:
        raise NotFound("enrollment token", token_id)
    token.revoked_at = token.revoked_at or utcnow()
    return token


def _usable_enrollment_token(session: Session, secret: str) -> EnrollmentToken:
    token = session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == hash_secret(secret))
    )
    if token is None:
        raise AuthenticationFailed("unknown enrollment token")
    if token.revoked_at is not None:
        raise EnrollmentRefused("enrollment token revoked")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise EnrollmentRefused("enrollment token expired")
    if token.max_uses is not None and token.uses >= token.max_uses:
        raise EnrollmentRefused("enrollment token used up")
    return token


def _take_enrollment_token_use(session: Session, token: EnrollmentToken) -> None:
    """Count one use of the token, in one conditional UPDATE: the database checks the limit
    and increments under its own write lock, so parallel enrollments (SQLite has no row
    locks, and a read-then-write loses updates) never take more uses than the token has."""
    taken = session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.id == token.id,
            EnrollmentToken.revoked_at.is_(None),
            or_(
                EnrollmentToken.max_uses.is_(None),
                EnrollmentToken.uses < EnrollmentToken.max_uses,
            ),
        )
        .values(uses=EnrollmentToken.uses + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(token, ["uses"])
    if getattr(taken, "rowcount", 0) != 1:
        raise EnrollmentRefused("enrollment token used up")


#: How long an admin's approval of a re-enrollment stays usable.
REENROLL_APPROVAL = dt.timedelta(days=7)


def _check_reenrollment(agent: Agent, current_credential: str | None) -> None:
    """Let a known agent id enroll again only with proof: its current (unrevoked) credential,
    or an admin's approval that has not run out. Consumes the approval.

    Raises ReenrollmentRefused.
    """
    now = utcnow()
    if agent.reenroll_approved_until is not None and agent.reenroll_approved_until > now:
        agent.reenroll_approved_until = None
        agent.revoked_at = None
        return
    if agent.revoked_at is not None:
        raise ReenrollmentRefused(agent.agent_uid, "it is revoked")
    if current_credential is None:
        raise ReenrollmentRefused(agent.agent_uid, "no current credential was sent")
    if not hmac.compare_digest(hash_secret(current_credential), agent.credential_hash):
        raise ReenrollmentRefused(agent.agent_uid, "the credential sent is not its current one")


def enroll_agent(
    session: Session,
    *,
    enrollment_secret: str,
    agent_uid: str,
    hostname: str,
    os: str,
    os_version: str = "",
    arch: str = "",
    current_credential: str | None = None,
) -> tuple[Agent, str]:
    """Register an agent and return it with its new credential (shown once, stored hashed).

    An agent id already enrolled enrolls again only with proof (``current_credential``, or an
    admin's approval: :func:`approve_reenrollment`); it keeps its host and gets a new
    credential. Raises AuthenticationFailed, EnrollmentRefused (ReenrollmentRefused).
    """
    token = _usable_enrollment_token(session, enrollment_secret)
    agent = session.scalar(select(Agent).where(Agent.agent_uid == agent_uid))
    if agent is not None:
        _check_reenrollment(agent, current_credential)
    _take_enrollment_token_use(session, token)
    credential = new_secret("smag_")
    if agent is None:
        host = Host(hostname=hostname, os=os, os_version=os_version, arch=arch)
        session.add(host)
        session.flush()
        agent = Agent(
            agent_uid=agent_uid,
            credential_hash=hash_secret(credential),
            host_id=host.id,
            token_id=token.id,
        )
        session.add(agent)
        try:
            session.flush()
        except IntegrityError as exc:
            # The same new id enrolled by another request at the same moment: that one won,
            # and this one would be a re-enrollment without proof. (The caller rolls back.)
            raise ReenrollmentRefused(agent_uid, "was enrolled at the same moment") from exc
    else:
        agent.credential_hash = hash_secret(credential)
        agent.token_id = token.id
    session.flush()
    return agent, credential


def get_agent(session: Session, *, agent_id: int) -> Agent:
    """Return one agent by row id; raises NotFound."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    return agent


def list_host_agents(session: Session, *, host_id: int) -> Sequence[Agent]:
    """Return the agents that report for a host, oldest first."""
    return session.scalars(select(Agent).where(Agent.host_id == host_id).order_by(Agent.id)).all()


def list_agents(session: Session) -> Sequence[Agent]:
    """Return every enrolled agent (log sources included), oldest first."""
    return session.scalars(select(Agent).order_by(Agent.id)).all()


def revoke_agent(session: Session, *, agent_id: int) -> Agent:
    """Revoke an agent's credential (idempotent): its reports and its re-enrollment are
    refused until an admin approves one. Raises NotFound."""
    agent = get_agent(session, agent_id=agent_id)
    agent.revoked_at = agent.revoked_at or utcnow()
    agent.reenroll_approved_until = None
    session.flush()
    return agent


def approve_reenrollment(
    session: Session, *, agent_id: int, valid_for: dt.timedelta = REENROLL_APPROVAL
) -> Agent:
    """Let the agent id enroll once more without its current credential, within ``valid_for``
    (the agent lost its credential, or was revoked and is trusted again). Raises NotFound."""
    agent = get_agent(session, agent_id=agent_id)
    agent.reenroll_approved_until = utcnow() + valid_for
    session.flush()
    return agent


def check_agent_machine(session: Session, *, agent: Agent, fingerprint: str) -> None:
    """Bind an agent id to the first machine fingerprint it uses; refuse any other.

    Raises IdentityConflict when the id is bound to another machine (a cloned state dir).
    """
    bound = session.get(AgentMachine, agent.id)
    if bound is None:
        session.add(AgentMachine(agent_id=agent.id, fingerprint=fingerprint))
        session.flush()
        return
    if bound.fingerprint != fingerprint:
        raise IdentityConflict(agent.agent_uid)


def authenticate_agent(session: Session, *, credential: str) -> Agent:
    """Return the agent holding a credential; raises AuthenticationFailed."""
    agent = session.scalar(select(Agent).where(Agent.credential_hash == hash_secret(credential)))
    if agent is None or agent.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked agent credential")
    return agent


def get_or_create_log_source(session: Session, *, source_uid: str, hostname: str) -> Agent:
    """Return the agent record standing for one client of an imported log, creating it.

    Log sources never authenticate: their credential hash is random and matches no secret.
    """
    agent = session.scalar(select(Agent).where(Agent.agent_uid == source_uid))
    if agent is not None:
        return agent
    host = Host(hostname=hostname[:255], os="other")
    session.add(host)
    session.flush()
    agent = Agent(
        agent_uid=source_uid[:128],
        credential_hash=hash_secret(new_secret("smlog_")),
        host_id=host.id,
    )
    session.add(agent)
    session.flush()
    return agent
