"""register entries join the sync change feed

Revision ID: 0006_register_sync
Revises: 0005_api_integrations
Create Date: 2026-11-28

Installs the change-tracking triggers of migration 0005 on register_entries (entity
"register.entry"), so that GET /api/v1/sync/register has the same commit-order guarantee as
the inventory feed. Entries that exist before this migration enter the feed once, numbered
after every change already in it.
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0006_register_sync"
down_revision = "0005_api_integrations"
branch_labels = None
depends_on = None

TABLE = "register_entries"
ENTITY = "register.entry"

# The trigger statements are 0005's (one definition of the tracking DDL); its module name
# starts with a digit, so it is imported by name.
_tracking = importlib.import_module("collector.migrations.versions.0005_api_integrations")


def upgrade() -> None:
    # Number existing entries after the current counter, then move the counter past them.
    # Table and entity are the constants above, never input.
    op.execute(
        "INSERT INTO sync_changes (entity, entity_id, change_seq, first_seq, deleted, changed_at) "  # noqa: S608
        f"SELECT '{ENTITY}', id, "
        "id + (SELECT value FROM sync_counters WHERE name = 'changes'), "
        "id + (SELECT value FROM sync_counters WHERE name = 'changes'), "
        f"FALSE, updated_at FROM {TABLE}"
    )
    op.execute(
        "UPDATE sync_counters SET value = value + "  # noqa: S608
        f"(SELECT COALESCE(MAX(id), 0) FROM {TABLE}) WHERE name = 'changes'"
    )
    for statement in _tracking.tracking_ddl(op.get_bind().dialect.name, TABLE, ENTITY):
        op.execute(statement)


def downgrade() -> None:
    for statement in _tracking.untracking_ddl(op.get_bind().dialect.name, TABLE):
        op.execute(statement)
    op.execute(f"DELETE FROM sync_changes WHERE entity = '{ENTITY}'")  # noqa: S608
