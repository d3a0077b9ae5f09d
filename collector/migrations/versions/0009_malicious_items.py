"""malicious items: an inventory item's severity, from the catalogue's published reports

Revision ID: 0009_malicious_items
Revises: 0008_sso_siem_drift
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_malicious_items"
down_revision = "0008_sso_siem_drift"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity", sa.String(length=16), server_default="normal", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_inventory_items_severity"), ["severity"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_items_severity"))
        batch_op.drop_column("severity")
