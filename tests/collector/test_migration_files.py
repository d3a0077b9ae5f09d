"""The migration files: their names follow the revision chain, and every id an older release
stamped maps to one revision (no database needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Engine

from collector.db import OLD_REVISION_IDS, alembic_config, make_engine

VERSIONS = Path(__file__).resolve().parents[2] / "collector" / "migrations" / "versions"
# The width of alembic_version.version_num.
MAX_REVISION_ID = 32


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = make_engine("sqlite://")  # only to build the Alembic config; never connected
    yield engine
    engine.dispose()


def _chain(engine: Engine) -> list[Script]:
    script = ScriptDirectory.from_config(alembic_config(engine))
    return list(reversed(list(script.walk_revisions())))


def test_sorted_file_order_is_the_revision_chain(engine: Engine) -> None:
    files = sorted(path.name for path in VERSIONS.glob("[0-9]*.py"))
    assert [Path(revision.path).name for revision in _chain(engine)] == files


def test_each_revision_id_is_its_file_name_and_its_number_its_place(engine: Engine) -> None:
    for place, revision in enumerate(_chain(engine), start=1):
        assert revision.revision == Path(revision.path).stem
        assert revision.revision.startswith(f"{place:04d}_")
        assert len(revision.revision) <= MAX_REVISION_ID


def test_every_old_revision_id_names_one_revision(engine: Engine) -> None:
    revisions = [revision.revision for revision in _chain(engine)]
    # Revisions after 0007 were never stamped with an old-style id.
    assert sorted(OLD_REVISION_IDS.values()) == revisions[: len(OLD_REVISION_IDS)]
    assert sorted(OLD_REVISION_IDS) == [f"{number:04d}" for number in range(1, 8)]
