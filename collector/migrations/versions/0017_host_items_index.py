"""a host's items read off one index: item_hosts indexed on (host_id, item_id) instead of
host_id alone (the hosts list sorted by risk asks, host by host, whether one of its items has
a given score; with host_id alone each question read the host's rows from the table)

Revision ID: 0017_host_items_index
Revises: 0016_fleet_scale
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017_host_items_index"
down_revision = "0016_fleet_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_hosts_host_item", "item_hosts", ["host_id", "item_id"])
    op.drop_index("ix_item_hosts_host_id", table_name="item_hosts")


def downgrade() -> None:
    op.create_index("ix_item_hosts_host_id", "item_hosts", ["host_id"])
    op.drop_index("ix_item_hosts_host_item", table_name="item_hosts")
