"""register, triage, suppression rules and the audit trail

Revision ID: 0002_register_triage_audit
Revises: 0001_initial_schema
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_register_triage_audit"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "after",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_object_type"), ["object_type"], unique=False
        )

    op.create_table(
        "register_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("ai_system", sa.String(length=255), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=True),
        sa.Column("business_unit", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("business_owner", sa.String(length=120), nullable=False),
        sa.Column("technical_owner", sa.String(length=120), nullable=False),
        sa.Column(
            "data_classes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("risk_rationale", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_conditions", sa.Text(), nullable=False),
        sa.Column("decision_rationale", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("controls", sa.Text(), nullable=False),
        sa.Column("review_cadence_months", sa.Integer(), nullable=False),
        sa.Column("last_reviewed_on", sa.Date(), nullable=True),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("dpia_screening", sa.String(length=24), nullable=False),
        sa.Column("supplier", sa.String(length=255), nullable=False),
        sa.Column("supplier_review", sa.String(length=32), nullable=False),
        sa.Column("eu_ai_act_class", sa.String(length=32), nullable=False),
        sa.Column("human_oversight", sa.String(length=32), nullable=False),
        sa.Column("scope_status", sa.String(length=16), nullable=False),
        sa.Column("scope_rationale", sa.Text(), nullable=False),
        sa.Column(
            "evidence_links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entries")),
        sa.UniqueConstraint("register_id", name=op.f("uq_register_entries_register_id")),
    )
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_register_entries_next_review_on"), ["next_review_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_register_entries_service_id"), ["service_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_register_entries_status"), ["status"], unique=False)

    op.create_table(
        "suppression_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_rules")),
        sa.UniqueConstraint("item_key", name=op.f("uq_suppression_rules_item_key")),
    )
    op.create_table(
        "triage_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_triage_comments_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_comments")),
    )
    with op.batch_alter_table("triage_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_comments_item_id"), ["item_id"], unique=False)

    op.create_table(
        "triage_records",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("register_entry_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_triage_records_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_triage_records_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["inventory_items.id"],
            name=op.f("fk_triage_records_merged_into_id_inventory_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["register_entry_id"],
            ["register_entries.id"],
            name=op.f("fk_triage_records_register_entry_id_register_entries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_triage_records")),
    )
    with op.batch_alter_table("triage_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_records_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_triage_records_register_entry_id"), ["register_entry_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_records_register_entry_id"))
        batch_op.drop_index(batch_op.f("ix_triage_records_assignee_id"))

    op.drop_table("triage_records")
    with op.batch_alter_table("triage_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_comments_item_id"))

    op.drop_table("triage_comments")
    op.drop_table("suppression_rules")
    with op.batch_alter_table("register_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_register_entries_status"))
        batch_op.drop_index(batch_op.f("ix_register_entries_service_id"))
        batch_op.drop_index(batch_op.f("ix_register_entries_next_review_on"))

    op.drop_table("register_entries")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_object_type"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor"))

    op.drop_table("audit_events")
