"""fleet scale: hosts indexed by their name ignoring case (ingest looks it up on every report);
how many inventory items each host shows, kept on the host row by ingest (the
hosts list sorts on it without a grouped pass over item_hosts); an item's process names and
domains kept as facets, like its kinds and users (its page names them without reading every
sighting); an item's sightings indexed by last seen (its page lists the newest first)

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
    # The hosts list's usual orders (key descending NULLS LAST, the tie by id ascending) off
    # an index; SQLite's DESC puts NULL last already and takes no NULLS LAST in an index.
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index("ix_hosts_item_count", "hosts", [sa.text(f"item_count DESC{nulls}"), "id"])
    op.create_index(
        "ix_hosts_last_report_desc", "hosts", [sa.text(f"last_report_at DESC{nulls}"), "id"]
    )
    op.create_index("ix_hosts_hostname_lower", "hosts", [sa.text("lower(hostname)")])
    op.create_index("ix_sightings_item_seen", "sightings", ["item_id", "last_seen_at"])
    # As collector.ingest adds them from now on (from the sightings still stored).
    op.execute(
        "INSERT INTO item_facets (item_id, facet, value) "
        "SELECT DISTINCT item_id, 'process', substr(indicator, 1, 256) FROM sightings "
        "WHERE kind = 'process' ON CONFLICT DO NOTHING"
    )
    op.execute(
        "INSERT INTO item_facets (item_id, facet, value) "
        "SELECT DISTINCT item_id, 'domain', substr(indicator, 1, 256) FROM sightings "
        "WHERE kind <> 'process' AND (kind IN ('dns', 'sni', 'connection', 'log') "
        "OR indicator_kind = 'domain') ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.execute("DELETE FROM item_facets WHERE facet IN ('process', 'domain')")
    op.drop_index("ix_sightings_item_seen", table_name="sightings")
    op.drop_index("ix_hosts_hostname_lower", table_name="hosts")
    op.drop_index("ix_hosts_last_report_desc", table_name="hosts")
    op.drop_index("ix_hosts_item_count", table_name="hosts")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("item_count")
