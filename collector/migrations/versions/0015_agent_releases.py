"""agent releases: signed agent packages with a staged rollout, and each agent's update state

Revision ID: 0015_agent_releases
Revises: 0014_governance
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_agent_releases"
down_revision = "0014_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("package_path", sa.String(length=1024), nullable=False),
        sa.Column("rollout_percent", sa.Integer(), nullable=False),
        sa.Column(
            "rollout_tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_releases")),
        sa.UniqueConstraint("platform", "version", name=op.f("uq_agent_releases_platform")),
    )
    op.create_table(
        "agent_update_states",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_update_states_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["agent_releases.id"],
            name=op.f("fk_agent_update_states_release_id_agent_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "release_id", name=op.f("pk_agent_update_states")),
    )


def downgrade() -> None:
    op.drop_table("agent_update_states")
    op.drop_table("agent_releases")
