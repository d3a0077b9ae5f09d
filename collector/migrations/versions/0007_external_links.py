"""external links: the ids other systems (CISO Assistant) gave to what Shadowmap pushed

Revision ID: 0007_external_links
Revises: 0006_register_sync
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_external_links"
down_revision = "0006_register_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("local_id", sa.String(length=64), nullable=False),
        sa.Column("register_id", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=64), nullable=False),
        sa.Column("remote_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_links")),
        sa.UniqueConstraint(
            "system", "object_type", "local_id", name=op.f("uq_external_links_system")
        ),
    )
    with op.batch_alter_table("external_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_links_register_id"), ["register_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("external_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_links_register_id"))
    op.drop_table("external_links")
