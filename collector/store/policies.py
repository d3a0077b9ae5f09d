"""AI policy documents (ISO/IEC 42001 A.2.2, A.2.4): versions in Markdown, each published once
by a named approver; and the acknowledgements people give each published version.
Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, UTCDateTime, utcnow
from collector.store.people import Person

DRAFT = "draft"
PUBLISHED = "published"


class PolicyVersion(Base):
    """One version of a policy; ``policy_key`` names the policy across its versions."""

    __tablename__ = "aims_policy_versions"
    __table_args__ = (UniqueConstraint("policy_key", "version", name="uq_aims_policy_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    approver_role: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Acknowledgement(Base):
    """A person confirming they read one published policy version."""

    __tablename__ = "aims_policy_acknowledgements"
    __table_args__ = (UniqueConstraint("policy_id", "person_id", name="uq_aims_policy_ack"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("aims_policy_versions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(16))  # link | signed_in
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_policy_version(
    session: Session,
    *,
    policy_key: str,
    title: str,
    body_markdown: str,
    approver_role: str,
    created_by: str,
) -> PolicyVersion:
    """Add the next draft version of a policy (call with the audit chain lock held)."""
    latest = session.scalar(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.policy_key == policy_key)
    )
    policy = PolicyVersion(
        policy_key=policy_key,
        version=(latest or 0) + 1,
        title=title,
        body_markdown=body_markdown,
        approver_role=approver_role,
        created_by=created_by,
    )
    session.add(policy)
    session.flush()
    return policy


def get_policy_version(session: Session, *, policy_id: int) -> PolicyVersion:
    policy = session.get(PolicyVersion, policy_id)
    if policy is None:
        raise NotFound("policy version", policy_id)
    return policy


def list_policy_versions(session: Session) -> Sequence[PolicyVersion]:
    """Return every policy version, by policy and newest version first."""
    return session.scalars(
        select(PolicyVersion).order_by(PolicyVersion.policy_key, PolicyVersion.version.desc())
    ).all()


def current_policies(session: Session) -> list[PolicyVersion]:
    """Return the newest published version of each policy, by key."""
    current: dict[str, PolicyVersion] = {}
    for policy in list_policy_versions(session):
        if policy.status == PUBLISHED and policy.policy_key not in current:
            current[policy.policy_key] = policy
    return [current[key] for key in sorted(current)]


def get_acknowledgement(
    session: Session, *, policy_id: int, person_id: int
) -> Acknowledgement | None:
    return session.scalar(
        select(Acknowledgement).where(
            Acknowledgement.policy_id == policy_id, Acknowledgement.person_id == person_id
        )
    )


def create_acknowledgement(
    session: Session, *, policy_id: int, person_id: int, via: str
) -> Acknowledgement:
    ack = Acknowledgement(policy_id=policy_id, person_id=person_id, via=via)
    session.add(ack)
    session.flush()
    return ack


def count_acknowledged_by_department(session: Session, *, policy_id: int) -> dict[str, int]:
    """Return, per department, how many people acknowledged a policy version."""
    query = (
        select(Person.department, func.count(Acknowledgement.id))
        .join(Person, Person.id == Acknowledgement.person_id)
        .where(Acknowledgement.policy_id == policy_id)
        .group_by(Person.department)
    )
    return dict(session.execute(query).all())


def list_unacknowledged(
    session: Session, *, policy_id: int, limit: int = 1000, with_email: bool = False
) -> Sequence[Person]:
    """Return people of the directory who have not acknowledged a policy version, by username."""
    done = select(Acknowledgement.person_id).where(Acknowledgement.policy_id == policy_id)
    query = select(Person).where(Person.id.not_in(done)).order_by(Person.username).limit(limit)
    if with_email:
        query = query.where(Person.email != "")
    return session.scalars(query).all()


def list_acknowledgements(session: Session) -> list[tuple[Acknowledgement, PolicyVersion, Person]]:
    """Return every acknowledgement with its policy version and person, oldest first."""
    query = (
        select(Acknowledgement, PolicyVersion, Person)
        .join(PolicyVersion, PolicyVersion.id == Acknowledgement.policy_id)
        .join(Person, Person.id == Acknowledgement.person_id)
        .order_by(Acknowledgement.id)
    )
    return [(ack, policy, person) for ack, policy, person in session.execute(query).all()]
