"""identity hardening: admin approval of an agent's re-enrollment, report ids unique per agent,
sign-in throttling

Revision ID: 0012_identity_hardening
Revises: 0011_outbound_limits
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_identity_hardening"
down_revision = "0011_outbound_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reenroll_approved_until", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reports_report_uid", type_="unique")
        batch_op.create_unique_constraint(
            "uq_reports_agent_id_report_uid", ["agent_id", "report_uid"]
        )
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reports_agent_id_report_uid", type_="unique")
        batch_op.create_unique_constraint("uq_reports_report_uid", ["report_uid"])
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("reenroll_approved_until")
