"""governance that acts: items carry the register's status, violations per host, user and
channel with their days, decisions name allowed departments and an alternative, email
subscriptions and outbox, users' email, reviews as a workflow (dismissed reassessment
triggers, the review reminders last sent)

Revision ID: 0014_governance
Revises: 0013_aims
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_governance"
down_revision = "0013_aims"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("governed_status", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("allowed_departments", sa.Text(), server_default="", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_inventory_items_governed_status"), ["governed_status"], unique=False
        )
    # Items already linked to an entry take its status (the register is the one owner).
    op.execute(
        "UPDATE inventory_items SET governed_status = (SELECT e.status FROM triage_records t "
        "JOIN register_entries e ON e.id = t.register_entry_id "
        "WHERE t.item_id = inventory_items.id) WHERE id IN (SELECT t.item_id FROM "
        "triage_records t WHERE t.register_entry_id IS NOT NULL)"
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=32), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("reason", sa.String(length=32), server_default="prohibited", nullable=False)
        )
        batch_op.add_column(
            sa.Column("department", sa.String(length=256), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_violations_notified_at"), ["notified_at"], unique=False
        )
        batch_op.drop_constraint("uq_violations_identity", type_="unique")
        batch_op.create_unique_constraint(
            "uq_violations_identity", ["item_id", "host_id", "user_name", "channel"]
        )
    # Violations recorded before this release were announced by nobody: not now either.
    op.execute("UPDATE violations SET notified_at = last_seen_at")
    op.create_table(
        "violation_days",
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["violations.id"],
            name=op.f("fk_violation_days_violation_id_violations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("violation_id", "day", name=op.f("pk_violation_days")),
    )
    op.create_index(op.f("ix_violation_days_day"), "violation_days", ["day"], unique=False)
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_departments", _JSON, server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("alternative", sa.String(length=255), server_default="", nullable=False)
        )
    op.create_table(
        "review_notices",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_review_notices_entry_id_register_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_review_notices")),
    )
    op.create_table(
        "trigger_dismissals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dismissed_by", sa.String(length=64), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["register_entries.id"],
            name=op.f("fk_trigger_dismissals_entry_id_register_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_dismissals")),
        sa.UniqueConstraint("entry_id", "trigger", name="uq_trigger_dismissals_entry_trigger"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sa.String(length=254), server_default="", nullable=False)
        )
    op.create_table(
        "email_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("event_types", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_subscriptions")),
        sa.UniqueConstraint("address", name=op.f("uq_email_subscriptions_address")),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
    )
    op.create_index("ix_email_outbox_due", "email_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_email_outbox_due", table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_table("email_subscriptions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
    op.drop_table("trigger_dismissals")
    op.drop_table("review_notices")
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.drop_column("alternative")
        batch_op.drop_column("allowed_departments")
    op.drop_index(op.f("ix_violation_days_day"), table_name="violation_days")
    op.drop_table("violation_days")
    # Several channels of one (item, host, user) fold back into one violation.
    op.execute(
        "DELETE FROM violations WHERE id NOT IN (SELECT min(id) FROM violations "
        "GROUP BY item_id, host_id, user_name)"
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_violations_identity", type_="unique")
        batch_op.create_unique_constraint(
            "uq_violations_identity", ["item_id", "host_id", "user_name"]
        )
        batch_op.drop_index(batch_op.f("ix_violations_notified_at"))
        batch_op.drop_column("notified_at")
        batch_op.drop_column("department")
        batch_op.drop_column("reason")
        batch_op.drop_column("channel")
    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_items_governed_status"))
        batch_op.drop_column("allowed_departments")
        batch_op.drop_column("governed_status")
