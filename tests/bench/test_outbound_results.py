"""The recorded figures of issue 20's benchmarks meet their targets: no 5xx from ingest while
three webhook receivers hang (SQLite and PostgreSQL), and an inventory export of 20,000
items streamed in at most 100 MB of server memory. A change that moves them must rerun
bench/bench_outbound.py and bench/bench_export.py and commit the new results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ingest_answers_no_5xx_while_receivers_hang(backend: str) -> None:
    run = json.loads((RESULTS / "outbound.json").read_text())["runs"][f"after/{backend}"]
    assert run["server_errors_5xx"] == 0 and run["outcomes"] == {"HTTP 200": run["reports"]}
    assert run["reports"] >= 500
    assert run["receiver_requests_total"] > 0  # the receivers were called, and hung


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_export_of_20000_items_stays_within_100_mb(backend: str) -> None:
    run = json.loads((RESULTS / "export.json").read_text())["runs"][f"after/{backend}"]
    assert set(run["exports"]) == {"cyclonedx", "json", "csv"}
    for figures in run["exports"].values():
        assert figures["items"] >= 20_000 and figures["streamed"]
        assert figures["rss_growth_mb"] <= 100
