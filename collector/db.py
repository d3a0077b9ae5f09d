"""Engines and sessions: SQLite (WAL) by default, PostgreSQL through a database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, String, column, create_engine, event, inspect, table, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from collector.errors import StorageError


def make_engine(database_url: str, *, echo: bool = False) -> Engine:
    """Create an engine for a database URL; SQLite files get WAL and foreign keys."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session whose work is committed on success and rolled back on error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("collector").joinpath("migrations"))
    )
    config.attributes["engine"] = engine
    return config


#: The revision ids of releases before the migrations were renumbered to follow their chain, and
#: the id each revision has now. A database such a release migrated is stamped with an old id;
#: :func:`upgrade` rewrites it first. (Alembic matches ids by prefix, so an old "0002", the
#: inventory roll-ups, would otherwise be taken for the new 0002 and the upgrade would go wrong.)
OLD_REVISION_IDS = {
    "0001": "0001_initial_schema",
    "0004": "0002_register_triage_audit",
    "0002": "0003_inventory_rollups",
    "0003": "0004_agent_machines",
    "0005": "0005_api_integrations",
    "0006": "0006_register_sync",
    "0007": "0007_external_links",
}

_version_table = table("alembic_version", column("version_num", String))


def rewrite_old_revision_stamp(engine: Engine) -> str | None:
    """Rewrite an old-style revision stamp (see OLD_REVISION_IDS) to its new id; return the new
    id, or None when there was nothing to rewrite."""
    with engine.begin() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        stamped = connection.execute(_version_table.select()).scalars().all()
        if len(stamped) != 1 or stamped[0] not in OLD_REVISION_IDS:
            return None
        new = OLD_REVISION_IDS[stamped[0]]
        connection.execute(
            update(_version_table)
            .where(_version_table.c.version_num == stamped[0])
            .values(version_num=new)
        )
        return new


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; raises StorageError if the database is unreachable.

    A database stamped by a release before the migrations were renumbered is restamped first.
    """
    try:
        rewrite_old_revision_stamp(engine)
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate the database: {exc}") from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
