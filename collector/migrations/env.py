"""Alembic environment: runs migrations on the engine handed over by collector.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from collector.schema import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only reached when misused from the CLI
    raise RuntimeError("run migrations through collector.db.upgrade(engine)")

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild a table (create, copy, drop, rename); with foreign keys on,
        # dropping the old hosts or inventory_items table would cascade into the sightings.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
