"""The people directory: who works where, under the usernames the agents report (plain or
pseudonymised), imported from CSV. Keyword-only; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import String, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import NotFound
from collector.store.base import Base, UTCDateTime, dialect_insert, utcnow


class Person(Base):
    """One person of the organisation; ``username`` is unique, case-insensitively."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(128), default="", index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    department: Mapped[str] = mapped_column(String(128), default="", index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def upsert_people(session: Session, *, rows: Sequence[dict[str, str]]) -> int:
    """Insert or update people by username (lower case); return how many rows were written."""
    if not rows:
        return 0
    now = utcnow()
    table = Person.__table__
    insert = dialect_insert(session, table)
    upsert = insert.on_conflict_do_update(
        index_elements=["username"],
        set_={
            name: insert.excluded[name]
            for name in ("pseudonym", "name", "email", "department", "updated_at")
        },
    )
    for start in range(0, len(rows), 5000):
        # executemany: SQLAlchemy batches the rows into multi-row INSERTs itself.
        session.execute(upsert, [{**row, "updated_at": now} for row in rows[start : start + 5000]])
    return len(rows)


def get_person(session: Session, *, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("person", person_id)
    return person


def find_person(session: Session, *, username: str) -> Person | None:
    """Return the person reported under ``username`` (or its pseudonym), or None."""
    key = username.strip().lower()
    if not key:
        return None
    return session.scalar(
        select(Person).where(or_(Person.username == key, Person.pseudonym == key)).limit(1)
    )


def list_people(
    session: Session, *, department: str | None = None, limit: int = 1000, offset: int = 0
) -> Sequence[Person]:
    query = select(Person).order_by(Person.username).limit(limit).offset(offset)
    if department is not None:
        query = query.where(Person.department == department)
    return session.scalars(query).all()


def count_people_by_department(session: Session) -> dict[str, int]:
    query = select(Person.department, func.count(Person.id)).group_by(Person.department)
    return dict(session.execute(query).all())
