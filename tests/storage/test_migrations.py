"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from collector.db import alembic_config, current_revision
from tests.storage.schema_compare import schema_differences


def test_database_is_at_the_newest_revision(migrated_engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(migrated_engine)).get_current_head()
    assert current_revision(migrated_engine) == head


def test_migrations_match_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        differences = schema_differences(connection)
    assert differences == []
