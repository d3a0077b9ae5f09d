"""sightings: the class of the browser profile's signed-in account (personal, corporate...)

Revision ID: 0010_profile_account
Revises: 0009_malicious_items
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_profile_account"
down_revision = "0009_malicious_items"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("profile_account", sa.String(length=16), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sightings", schema=None) as batch_op:
        batch_op.drop_column("profile_account")
