"""inventory roll-ups, trend, violations and host department

Adds the per-item roll-up columns and tables that ingest maintains incrementally, and fills
them from the sightings already stored, so an upgraded inventory shows the same figures.

Revision ID: 0003_inventory_rollups
Revises: 0002_register_triage_audit
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_inventory_rollups"
down_revision = "0002_register_triage_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_daily",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("host_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_item_daily_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "day", "shard", name=op.f("pk_item_daily")),
    )
    op.create_table(
        "item_facets",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_item_facets_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "facet", "value", name=op.f("pk_item_facets")),
    )
    op.create_table(
        "item_hosts",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_item_hosts_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_item_hosts_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", "host_id", name=op.f("pk_item_hosts")),
    )
    with op.batch_alter_table("item_hosts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_hosts_host_id"), ["host_id"], unique=False)

    op.create_table(
        "violations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=256), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_violations_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["inventory_items.id"],
            name=op.f("fk_violations_item_id_inventory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("item_id", "host_id", "user_name", name="uq_violations_identity"),
    )
    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_violations_host_id"), ["host_id"], unique=False)

    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("department", sa.String(length=128), server_default="", nullable=False)
        )

    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("host_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("user_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sighting_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("violation_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_violation_at", sa.DateTime(timezone=True), nullable=True)
        )

    _backfill()


_DAY = {"sqlite": "date(%s)", "postgresql": "CAST(%s AS DATE)"}
_BROWSER = {"sqlite": "json_extract(evidence, '$.browser')", "postgresql": "evidence ->> 'browser'"}


def _backfill() -> None:
    """Derive the roll-ups from the sightings stored before this revision."""
    dialect = op.get_bind().dialect.name
    first_day, last_day = _DAY[dialect] % "min(first_seen_at)", _DAY[dialect] % "max(last_seen_at)"
    browser = _BROWSER[dialect]
    op.execute(
        " ".join(
            (
                "INSERT INTO item_hosts (item_id, host_id, first_day, last_day)",
                "SELECT item_id, host_id,",
                first_day,
                ",",
                last_day,
                "FROM sightings GROUP BY item_id, host_id",
            )
        )
    )
    op.execute(
        " ".join(
            (
                "INSERT INTO item_facets (item_id, facet, value)",
                "SELECT DISTINCT item_id, 'kind', kind FROM sightings",
                "UNION SELECT DISTINCT item_id, 'user', user_name FROM sightings",
                "WHERE user_name <> ''",
                "UNION SELECT DISTINCT item_id, 'browser', substr(",
                browser,
                ", 1, 256) FROM sightings WHERE",
                browser,
                "<> ''",
            )
        )
    )
    op.execute(
        "INSERT INTO item_daily (item_id, day, shard, host_count) "
        "SELECT item_id, last_day, 0, count(*) FROM item_hosts GROUP BY item_id, last_day"
    )
    op.execute(
        "UPDATE inventory_items SET "
        "host_count = (SELECT count(*) FROM item_hosts h WHERE h.item_id = inventory_items.id), "
        "user_count = (SELECT count(*) FROM item_facets f "
        "WHERE f.item_id = inventory_items.id AND f.facet = 'user'), "
        "sighting_count = (SELECT count(*) FROM sightings s WHERE s.item_id = inventory_items.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("inventory_items", schema=None) as batch_op:
        batch_op.drop_column("last_violation_at")
        batch_op.drop_column("violation_count")
        batch_op.drop_column("sighting_count")
        batch_op.drop_column("user_count")
        batch_op.drop_column("host_count")

    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("department")

    with op.batch_alter_table("violations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_violations_host_id"))

    op.drop_table("violations")
    with op.batch_alter_table("item_hosts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_hosts_host_id"))

    op.drop_table("item_hosts")
    op.drop_table("item_facets")
    op.drop_table("item_daily")
