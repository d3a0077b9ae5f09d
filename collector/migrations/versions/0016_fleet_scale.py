"""fleet scale: how many inventory items each host shows, kept on the host row by ingest (the
hosts list sorts on it without a grouped pass over item_hosts); an item's sightings indexed by
last seen (its page lists the newest first among hundreds of thousands)

Revision ID: 0016_fleet_scale
Revises: 0015_agent_releases
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_fleet_scale"
down_revision = "0015_agent_releases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("item_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE hosts SET item_count = "
        "(SELECT count(*) FROM item_hosts WHERE item_hosts.host_id = hosts.id)"
    )
    op.create_index("ix_hosts_item_count", "hosts", ["item_count", "id"])
    op.create_index("ix_sightings_item_seen", "sightings", ["item_id", "last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_sightings_item_seen", table_name="sightings")
    op.drop_index("ix_hosts_item_count", table_name="hosts")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("item_count")
