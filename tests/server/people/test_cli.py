"""`shadowmap people import`: a clean file is imported, a wrong one names its row and leaves the
directory as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from collector.db import transaction
from collector.store import people
from server.cli import main


def test_people_import_from_the_command_line(
    app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(app.state.shadowmap.settings.data_dir)
    good = tmp_path / "people.csv"
    good.write_bytes(b"username,department\nann,Sales\nbob,IT\n")
    assert main(["people", "import", str(good), "--data-dir", data_dir]) == 0
    assert "imported 2 people in 2 departments" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"username,department\ncy,Sales\nCY,IT\n")
    assert main(["people", "import", str(bad), "--data-dir", data_dir]) != 0
    assert "row 3" in capsys.readouterr().err
    with transaction(app.state.shadowmap.sessions) as session:
        assert [p.username for p in people.list_people(session)] == ["ann", "bob"]
