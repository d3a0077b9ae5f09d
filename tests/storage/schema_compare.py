"""Compare a migrated database with the models, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from collector.schema import Base

# Indexes on an expression or with an ordering, which SQLAlchemy cannot reflect from SQLite and
# which the migration words per backend (NULLS LAST on PostgreSQL): checked apart, on the
# definition each backend stores.
EXPRESSION_INDEXES = {
    "ix_hosts_hostname_lower": {"sqlite": "lower(hostname)", "postgresql": "lower((hostname)"},
    "ix_hosts_item_count": {
        "sqlite": "item_count DESC, id",
        "postgresql": "item_count DESC NULLS LAST, id",
    },
    "ix_hosts_last_report_desc": {
        "sqlite": "last_report_at DESC, id",
        "postgresql": "last_report_at DESC NULLS LAST, id",
    },
}


def _comparable(_obj: object, name: str | None, kind: str, *_rest: object) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def schema_differences(connection: Connection) -> list[Any]:
    """Return what Alembic finds different between the database and the models; indexes it
    cannot compare (EXPRESSION_INDEXES) are checked on the definition each backend stores."""
    dialect = connection.dialect.name
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        opts: dict[str, Any] = {"compare_type": False, "include_object": _comparable}
        context = MigrationContext.configure(connection, opts=opts)
        differences = list(compare_metadata(context, Base.metadata))
    query = (
        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        if dialect == "sqlite"
        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    )
    created = dict(connection.exec_driver_sql(query).all())
    for name, definitions in EXPRESSION_INDEXES.items():
        if definitions[dialect] not in (created.get(name) or ""):
            differences.append(("index not as the migration words it", name, created.get(name)))
    return differences
