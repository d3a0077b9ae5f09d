"""The recorded benchmark figures meet the targets the docs state."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_recorded_network_benchmark_meets_its_targets() -> None:
    results = json.loads((REPO / "bench/results/network.json").read_text())
    realistic = results["realistic"]
    assert realistic["packets"] == 200_000
    assert (
        realistic["names_equal_tshark"] and results["worst_case_unique_names"]["names_equal_tshark"]
    )
    assert realistic["ratio_scan_vs_tshark_cpu"] >= 4
    assert realistic["ratio_scan_vs_tshark_wall"] >= 4
    assert results["live_capture_memory"]["vm_hwm_mb"] <= 60
