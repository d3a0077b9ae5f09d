"""The recorded people-directory import meets its target on both backends: 100,000 rows in
under 10 s and 300 MB. A change that moves it must rerun bench/bench_people_import.py and
commit the new results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "people_import.json"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_100000_row_directory_imports_within_target(backend: str) -> None:
    run = json.loads(RESULTS.read_text())["runs"][backend]
    assert run["rows"] == 100_000
    assert run["import"]["wall_s"] < 10 and run["peak_rss_growth_mb"] < 300
