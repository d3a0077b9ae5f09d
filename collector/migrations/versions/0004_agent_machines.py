"""agent runtime: the machine each agent id is bound to (cloned-VM detection)

Revision ID: 0004_agent_machines
Revises: 0003_inventory_rollups
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_agent_machines"
down_revision = "0003_inventory_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_machines",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_machines_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_machines")),
    )


def downgrade() -> None:
    op.drop_table("agent_machines")
