"""Compare a migrated database with the models, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from collector.schema import Base

# Indexes on an expression, which SQLAlchemy cannot reflect from SQLite (checked apart).
EXPRESSION_INDEXES = {"ix_hosts_hostname_lower": "lower(hostname)"}


def _comparable(_obj: object, name: str | None, kind: str, *_rest: object) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def schema_differences(connection: Connection) -> list[Any]:
    """Return what Alembic finds different between the database and the models; on SQLite,
    where expression indexes cannot be reflected, check those in sqlite_master instead."""
    sqlite = connection.dialect.name == "sqlite"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        opts: dict[str, Any] = {"compare_type": False}
        if sqlite:
            opts["include_object"] = _comparable
        differences = list(
            compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
        )
    if sqlite:
        created = dict(
            connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            ).all()
        )
        for name, expression in EXPRESSION_INDEXES.items():
            if expression not in (created.get(name) or ""):
                differences.append(("missing expression index", name))
    return differences
