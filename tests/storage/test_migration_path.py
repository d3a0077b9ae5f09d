"""Every migration, one step at a time from base to head and back, with data present,
on SQLite and PostgreSQL: the roll-ups an upgrade derives match the sightings stored before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from collector.db import OLD_REVISION_IDS, alembic_config, current_revision, make_engine, upgrade
from tests.storage.schema_compare import schema_differences

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
INITIAL = "0001_initial_schema"
ROLL_UPS = "0003_inventory_rollups"

_hosts = sa.table(
    "hosts",
    sa.column("id", sa.Integer),
    sa.column("hostname", sa.String),
    sa.column("os", sa.String),
    sa.column("os_version", sa.String),
    sa.column("arch", sa.String),
    sa.column("agent_version", sa.String),
    sa.column("catalogue_version", sa.String),
    sa.column("first_seen_at", sa.DateTime(timezone=True)),
    sa.column("health", sa.JSON),
    sa.column("scanner_errors", sa.JSON),
)
_items = sa.table(
    "inventory_items",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("service_id", sa.String),
    sa.column("name", sa.String),
    sa.column("vendor", sa.String),
    sa.column("category", sa.String),
    sa.column("state", sa.String),
    sa.column("first_seen_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_sightings = sa.table(
    "sightings",
    sa.column("item_id", sa.Integer),
    sa.column("host_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("indicator", sa.String),
    sa.column("indicator_kind", sa.String),
    sa.column("user_name", sa.String),
    sa.column("confidence", sa.String),
    sa.column("evidence", sa.JSON),
    sa.column("first_seen_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'path.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _stamp(engine: Engine, value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def _seed_at_0001(engine: Engine) -> None:
    at = _stamp(engine, T0)
    later = _stamp(engine, T0 + dt.timedelta(days=3))
    with engine.begin() as connection:
        connection.execute(
            sa.insert(_hosts),
            [
                {
                    "id": number,
                    "hostname": f"host-{number}",
                    "os": "linux",
                    "os_version": "",
                    "arch": "",
                    "agent_version": "0.1.0",
                    "catalogue_version": "t",
                    "first_seen_at": at,
                    "health": {},
                    "scanner_errors": [],
                }
                for number in (1, 2)
            ],
        )
        connection.execute(
            sa.insert(_items),
            [
                {
                    "id": 1,
                    "key": "svc:openai-chatgpt",
                    "service_id": "openai-chatgpt",
                    "name": "ChatGPT",
                    "vendor": "OpenAI",
                    "category": "chat_assistant",
                    "state": "approved",
                    "first_seen_at": at,
                    "last_seen_at": later,
                    "created_at": at,
                    "updated_at": at,
                }
            ],
        )
        connection.execute(
            sa.insert(_sightings),
            [
                {
                    "item_id": 1,
                    "host_id": host,
                    "kind": kind,
                    "indicator": "ChatGPT",
                    "indicator_kind": "process",
                    "user_name": user,
                    "confidence": "high",
                    "evidence": evidence,
                    "first_seen_at": at,
                    "last_seen_at": later,
                }
                for host, kind, user, evidence in (
                    (1, "process", "alice", {"pid": 1}),
                    (1, "browser_extension", "alice", {"browser": "chrome"}),
                    (2, "process", "bob", {"pid": 2}),
                    (2, "process", "", {"pid": 3}),
                )
            ],
        )


def _revisions(engine: Engine) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(engine))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_upgrade_step_by_step_keeps_data_and_derives_roll_ups(empty_engine: Engine) -> None:
    config = alembic_config(empty_engine)
    revisions = _revisions(empty_engine)
    assert revisions[0] == INITIAL and ROLL_UPS in revisions

    command.upgrade(config, INITIAL)
    _seed_at_0001(empty_engine)
    for revision in revisions[1:]:
        command.upgrade(config, revision)
        assert current_revision(empty_engine) == revision

    with empty_engine.connect() as connection:
        item = connection.execute(
            sa.text(
                "SELECT state, host_count, user_count, sighting_count, violation_count "
                "FROM inventory_items"
            )
        ).one()
        facets = {
            (facet, value)
            for facet, value in connection.execute(sa.text("SELECT facet, value FROM item_facets"))
        }
        days = connection.execute(sa.text("SELECT host_count FROM item_daily")).scalars().all()
        departments = connection.execute(sa.text("SELECT department FROM hosts")).scalars()
        item_counts = connection.execute(
            sa.text("SELECT item_count FROM hosts ORDER BY id")
        ).scalars()
        assert tuple(item) == ("approved", 2, 2, 4, 0)
        # 0016 derives each host's item count from item_hosts (which 0003 derived).
        assert list(item_counts) == [1, 1]
        assert facets == {
            ("kind", "process"),
            ("kind", "browser_extension"),
            ("user", "alice"),
            ("user", "bob"),
            ("browser", "chrome"),
            # 0016: the process names (and domains) of the sightings stored.
            ("process", "ChatGPT"),
        }
        assert days == [2]
        assert set(departments) == {""}

    for revision in reversed(revisions[:-1]):
        command.downgrade(config, revision)
        assert current_revision(empty_engine) == revision
    command.downgrade(config, "base")
    assert current_revision(empty_engine) is None
    assert set(sa.inspect(empty_engine).get_table_names()) <= {"alembic_version"}

    command.upgrade(config, "head")
    assert current_revision(empty_engine) == revisions[-1]


def test_downgrade_of_the_roll_ups_keeps_the_sightings(empty_engine: Engine) -> None:
    config = alembic_config(empty_engine)
    command.upgrade(config, INITIAL)
    _seed_at_0001(empty_engine)
    command.upgrade(config, ROLL_UPS)
    command.downgrade(config, INITIAL)
    with empty_engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM sightings")).scalar() == 4
        columns = {column["name"] for column in sa.inspect(connection).get_columns("hosts")}
        assert "department" not in columns


def test_0006_puts_existing_register_entries_into_the_feed_after_every_change(
    empty_engine: Engine,
) -> None:
    config = alembic_config(empty_engine)
    command.upgrade(config, INITIAL)
    _seed_at_0001(empty_engine)
    command.upgrade(config, "0005_api_integrations")
    at = _stamp(empty_engine, T0)
    entry = {
        "register_id": "AIR-2026-0001", "version": 1, "status": "under_review", "title": "T",
        "ai_system": "S", "business_unit": "", "purpose": "", "business_owner": "",
        "technical_owner": "", "data_classes": [], "personal_data": False,
        "risk_level": "unrated", "risk_rationale": "", "decision_conditions": "",
        "decision_rationale": "", "controls": "", "review_cadence_months": 12,
        "dpia_screening": "not_screened", "supplier": "", "supplier_review": "not_started",
        "eu_ai_act_class": "not_assessed", "human_oversight": "n/a_assistive",
        "scope_status": "in_scope", "scope_rationale": "", "evidence_links": [],
        "created_at": at, "updated_at": at,
    }  # fmt: skip
    entries = sa.table("register_entries", *(sa.column(name) for name in entry))
    with empty_engine.begin() as connection:
        connection.execute(
            sa.insert(entries).values(
                {**entry, "data_classes": "[]", "evidence_links": "[]"}
                if empty_engine.dialect.name == "sqlite"
                else entry
            )
        )
        before = connection.execute(
            sa.text("SELECT value FROM sync_counters WHERE name = 'changes'")
        ).scalar_one()
    command.upgrade(config, "0006_register_sync")
    with empty_engine.begin() as connection:
        seq = connection.execute(
            sa.text("SELECT change_seq FROM sync_changes WHERE entity = 'register.entry'")
        ).scalar_one()
        counter = connection.execute(
            sa.text("SELECT value FROM sync_counters WHERE name = 'changes'")
        ).scalar_one()
        assert before < seq <= counter
        # From now on the trigger numbers every change to an entry.
        connection.execute(sa.text("UPDATE register_entries SET title = 'U'"))
    with empty_engine.connect() as connection:
        assert (
            connection.execute(
                sa.text("SELECT change_seq FROM sync_changes WHERE entity = 'register.entry'")
            ).scalar_one()
            == counter + 1
        )
    command.downgrade(config, "0005_api_integrations")
    with empty_engine.begin() as connection:
        connection.execute(sa.text("UPDATE register_entries SET title = 'V'"))
        assert (
            connection.execute(
                sa.text("SELECT count(*) FROM sync_changes WHERE entity = 'register.entry'")
            ).scalar_one()
            == 0
        )


def _stamp_as_an_old_release(engine: Engine, old_revision: str) -> None:
    """Write the revision id a release before the renumbering stamped (what it left behind)."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = :old"), {"old": old_revision}
        )


@pytest.mark.parametrize(
    "old_revision",
    [
        "0007",  # the old head
        "0002",  # the old roll-ups, between old 0004 and old 0003: a prefix of the new 0002
        "0004",  # the old register migration, now 0002
    ],
)
def test_a_database_stamped_by_an_old_release_upgrades_to_the_new_head(
    empty_engine: Engine, old_revision: str
) -> None:
    config = alembic_config(empty_engine)
    command.upgrade(config, INITIAL)
    _seed_at_0001(empty_engine)
    command.upgrade(config, OLD_REVISION_IDS[old_revision])
    _stamp_as_an_old_release(empty_engine, old_revision)
    assert current_revision(empty_engine) == old_revision

    upgrade(empty_engine)

    assert current_revision(empty_engine) == _revisions(empty_engine)[-1]
    with empty_engine.connect() as connection:
        assert schema_differences(connection) == []
        item = connection.execute(
            sa.text("SELECT host_count, user_count, sighting_count FROM inventory_items")
        ).one()
    assert tuple(item) == (2, 2, 4)
    upgrade(empty_engine)  # a second start finds nothing to rewrite or run
    assert current_revision(empty_engine) == _revisions(empty_engine)[-1]
