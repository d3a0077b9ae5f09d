"""outbound and load limits: webhook lanes and drops counted per endpoint, per-agent ingest quotas

Revision ID: 0011_outbound_limits
Revises: 0010_profile_account
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_outbound_limits"
down_revision = "0010_profile_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dropped_events", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("last_dropped_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=16), server_default="inventory", nullable=False)
        )
    op.execute("UPDATE webhook_deliveries SET lane = 'register' WHERE event_type LIKE 'register.%'")
    op.create_table(
        "ingest_quotas",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("limited_reports", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_limited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "last_limited",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_ingest_quotas_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_ingest_quotas")),
    )


def downgrade() -> None:
    op.drop_table("ingest_quotas")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("lane")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("last_dropped_at")
        batch_op.drop_column("dropped_events")
