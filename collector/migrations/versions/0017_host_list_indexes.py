"""the hosts list's indexes: item_hosts on (host_id, item_id) instead of host_id alone (sorted by
risk, the list asks host by host whether one of its items has a given score; with host_id
alone each question read the host's rows from the table); hosts on (os, department,
agent_version), the list's filter choices read from the index instead of every host row

Revision ID: 0017_host_list_indexes
Revises: 0016_fleet_scale
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017_host_list_indexes"
down_revision = "0016_fleet_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_item_hosts_host_item", "item_hosts", ["host_id", "item_id"])
    op.drop_index("ix_item_hosts_host_id", table_name="item_hosts")
    op.create_index("ix_hosts_facets", "hosts", ["os", "department", "agent_version"])


def downgrade() -> None:
    op.drop_index("ix_hosts_facets", table_name="hosts")
    op.create_index("ix_item_hosts_host_id", "item_hosts", ["host_id"])
    op.drop_index("ix_item_hosts_host_item", table_name="item_hosts")
