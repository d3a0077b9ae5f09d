"""The compiled catalogue a packaged agent carries is the YAML catalogue, and never a stale one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from signatures import (
    COMPILED_NAME,
    CatalogueError,
    compile_catalogue,
    default_data_dir,
    load_catalogue,
)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A copy of the shipped catalogue directory, with its compiled form beside the YAML."""
    copy = tmp_path / "data"
    shutil.copytree(default_data_dir(), copy)
    (copy / COMPILED_NAME).write_bytes(compile_catalogue(load_catalogue(copy, reuse=False)))
    return copy


def test_the_compiled_catalogue_beside_its_yaml_is_the_same_catalogue(data_copy: Path) -> None:
    from_yaml = load_catalogue(default_data_dir(), reuse=False)
    loaded = load_catalogue(data_copy, reuse=False)
    assert loaded.version == from_yaml.version
    # Every service with its indicators, risk, sources, dates and file of origin.
    assert loaded.services == from_yaml.services


def test_the_compiled_catalogue_alone_is_the_catalogue(data_copy: Path, tmp_path: Path) -> None:
    """What the frozen agent ships: catalogue.json without the YAML files."""
    alone = tmp_path / "packaged"
    alone.mkdir()
    shutil.copy(data_copy / COMPILED_NAME, alone / COMPILED_NAME)
    from_yaml = load_catalogue(default_data_dir(), reuse=False)
    loaded = load_catalogue(alone)
    assert loaded.version == from_yaml.version
    assert loaded.services == from_yaml.services


def test_a_compiled_catalogue_older_than_its_yaml_is_not_used(data_copy: Path) -> None:
    compiled_version = load_catalogue(data_copy).version
    edited = data_copy / "openai.yaml"
    edited.write_text(edited.read_text() + "\n# reviewed again\n")
    loaded = load_catalogue(data_copy)
    assert loaded.version != compiled_version  # the YAML was read, not the stale JSON
    assert loaded.services == load_catalogue(default_data_dir()).services


def test_a_damaged_compiled_catalogue_alone_is_an_error(data_copy: Path, tmp_path: Path) -> None:
    alone = tmp_path / "packaged"
    alone.mkdir()
    (alone / COMPILED_NAME).write_bytes((data_copy / COMPILED_NAME).read_bytes()[:5000])
    with pytest.raises(CatalogueError, match=COMPILED_NAME):
        load_catalogue(alone)
