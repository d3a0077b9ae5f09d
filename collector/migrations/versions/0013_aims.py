"""AI management system: scope, policies, people, approval routes, assessments, incidents,
training, Statement of Applicability, objectives; register entries say whether a use is
customer-facing or supports decisions about people

Revision ID: 0013_aims
Revises: 0012_identity_hardening
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_aims"
down_revision = "0012_identity_hardening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: on SQLite a batch rebuild of register_entries would
    # drop the triggers that feed the register sync (0006).
    for name in ("customer_facing", "decision_support"):
        op.add_column(
            "register_entries",
            sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False),
        )

    op.create_table(
        "aims_approval_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "risk_levels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "data_classes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("customer_facing", sa.Boolean(), nullable=False),
        sa.Column("decision_support", sa.Boolean(), nullable=False),
        sa.Column(
            "suppliers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "eu_ai_act_classes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "assessments",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "approvers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_approval_routes")),
        sa.UniqueConstraint("name", name=op.f("uq_aims_approval_routes_name")),
    )
    op.create_table(
        "aims_assessment_templates",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "questions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_aims_assessment_templates")),
    )
    op.create_table(
        "aims_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "answers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_by", sa.String(length=64), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_assessments")),
    )
    with op.batch_alter_table("aims_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_assessments_register_id"), ["register_id"], unique=False
        )

    op.create_table(
        "aims_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=16), nullable=False),
        sa.Column("register_id", sa.String(length=16), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closure", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_incidents")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_aims_incidents_incident_id")),
    )
    with op.batch_alter_table("aims_incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_incidents_register_id"), ["register_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_aims_incidents_status"), ["status"], unique=False)

    op.create_table(
        "aims_objective_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_objective_measurements")),
    )
    with op.batch_alter_table("aims_objective_measurements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_objective_measurements_measure"), ["measure"], unique=False
        )

    op.create_table(
        "aims_objective_targets",
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("measure", name=op.f("pk_aims_objective_targets")),
    )
    op.create_table(
        "aims_policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("approver_role", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_policy_versions")),
        sa.UniqueConstraint("policy_key", "version", name="uq_aims_policy_version"),
    )
    with op.batch_alter_table("aims_policy_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_policy_versions_policy_key"), ["policy_key"], unique=False
        )

    op.create_table(
        "aims_scope_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column(
            "business_units",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "locations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "ai_use_kinds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("exclusions", sa.Text(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_scope_statements")),
        sa.UniqueConstraint("version", name=op.f("uq_aims_scope_statements_version")),
    )
    op.create_table(
        "aims_soa_decisions",
        sa.Column("control_id", sa.String(length=16), nullable=False),
        sa.Column("applicable", sa.Boolean(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column(
            "evidence_links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("control_id", name=op.f("pk_aims_soa_decisions")),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("pseudonym", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("username", name=op.f("uq_people_username")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_people_department"), ["department"], unique=False)
        batch_op.create_index(batch_op.f("ix_people_pseudonym"), ["pseudonym"], unique=False)

    op.create_table(
        "aims_policy_acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_aims_policy_acknowledgements_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["aims_policy_versions.id"],
            name=op.f("fk_aims_policy_acknowledgements_policy_id_aims_policy_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_policy_acknowledgements")),
        sa.UniqueConstraint("policy_id", "person_id", name="uq_aims_policy_ack"),
    )
    with op.batch_alter_table("aims_policy_acknowledgements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_policy_acknowledgements_policy_id"), ["policy_id"], unique=False
        )

    op.create_table(
        "aims_signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.String(length=16), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=140), nullable=False),
        sa.Column("signed_by", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["route_id"],
            ["aims_approval_routes.id"],
            name=op.f("fk_aims_signoffs_route_id_aims_approval_routes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_signoffs")),
    )
    with op.batch_alter_table("aims_signoffs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_signoffs_register_id"), ["register_id"], unique=False
        )

    op.create_table(
        "aims_training_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(length=200), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_aims_training_records_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aims_training_records")),
    )
    with op.batch_alter_table("aims_training_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aims_training_records_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    for name in ("decision_support", "customer_facing"):
        op.drop_column("register_entries", name)

    with op.batch_alter_table("aims_training_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_training_records_person_id"))

    op.drop_table("aims_training_records")
    with op.batch_alter_table("aims_signoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_signoffs_register_id"))

    op.drop_table("aims_signoffs")
    with op.batch_alter_table("aims_policy_acknowledgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_policy_acknowledgements_policy_id"))

    op.drop_table("aims_policy_acknowledgements")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_pseudonym"))
        batch_op.drop_index(batch_op.f("ix_people_department"))

    op.drop_table("people")
    op.drop_table("aims_soa_decisions")
    op.drop_table("aims_scope_statements")
    with op.batch_alter_table("aims_policy_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_policy_versions_policy_key"))

    op.drop_table("aims_policy_versions")
    op.drop_table("aims_objective_targets")
    with op.batch_alter_table("aims_objective_measurements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_objective_measurements_measure"))

    op.drop_table("aims_objective_measurements")
    with op.batch_alter_table("aims_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_aims_incidents_register_id"))

    op.drop_table("aims_incidents")
    with op.batch_alter_table("aims_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aims_assessments_register_id"))

    op.drop_table("aims_assessments")
    op.drop_table("aims_assessment_templates")
    op.drop_table("aims_approval_routes")
