"""The watchdog backs off an expensive agent instead of hurting the machine."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.service import AgentService
from agent.watchdog import Watchdog
from tests.agent.helpers import ExpensiveScanner, GrowingScanner, settings

REPO = Path(__file__).resolve().parents[2]

# A real `run` schedule with a scanner that burns 0.5 s of CPU every second (~50 % of a core).
EXPENSIVE_AGENT = """
import json, os, sys, time
from pathlib import Path
import psutil
from agent.service import AgentService
from agent.watchdog import Watchdog
from tests.agent.helpers import ExpensiveScanner, settings

starts = []
class Timed(ExpensiveScanner):
    def scan(self, ctx):
        starts.append(time.monotonic())
        yield from super().scan(ctx)

service = AgentService(
    settings(Path(sys.argv[1]), scan_interval_seconds=1.0, scan_jitter_fraction=0.0,
             cpu_budget_percent=5.0, memory_budget_mb=4096.0),
    scanners=[Timed(seconds=0.5)],
    machine="c" * 32,
    # No 60 s warm-up here: the test has no minute to spare.
    watchdog=Watchdog(cpu_budget_percent=5.0, memory_budget_mb=4096.0, warmup_seconds=0.5),
)
nice_before = psutil.Process().nice()
service.run(max_cycles=4)
print(json.dumps({
    "starts": starts,
    "factor": service.watchdog.interval_factor,
    "nice_before": nice_before,
    "nice_after": psutil.Process().nice(),
    "status": service._last_reading.status if service._last_reading else None,
}))
"""


@pytest.mark.slow
def test_an_expensive_scanner_makes_the_agent_slow_down_and_lower_its_priority(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EXPENSIVE_AGENT, str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["factor"] >= 8
    assert outcome["nice_after"] >= outcome["nice_before"] + 10 or outcome["nice_after"] == 19
    assert outcome["status"] == "throttled"
    gaps = [later - earlier for earlier, later in itertools.pairwise(outcome["starts"])]
    assert len(gaps) == 3
    # Each over-budget cycle doubles the interval: the schedule stretches instead of hogging.
    assert gaps[-1] >= 2 * gaps[0]
    assert gaps[-1] >= 4.0
    assert "over the 5.0% budget" in result.stderr


def test_cpu_back_off_is_undone_when_the_agent_is_quiet_again() -> None:
    now = [0.0]
    watchdog = Watchdog(
        cpu_budget_percent=5.0,
        memory_budget_mb=4096.0,
        window_seconds=10.0,
        warmup_seconds=1.0,
        clock=lambda: now[0],
    )
    watchdog.lowered_priority = True  # do not renice the test process
    for _ in range(3):
        list(ExpensiveScanner(seconds=0.2).scan(None))  # type: ignore[arg-type]
        now[0] += 1.0
        watchdog.check()
    assert watchdog.interval_factor == 8
    for _ in range(6):
        now[0] += 60.0  # a quiet minute: no CPU used
        reading = watchdog.check()
    assert reading.interval_factor == 1 and reading.status == "ok"


def test_start_up_cost_is_not_judged_before_the_warm_up() -> None:
    now = [0.0]
    watchdog = Watchdog(
        cpu_budget_percent=5.0, memory_budget_mb=4096.0, warmup_seconds=60.0, clock=lambda: now[0]
    )
    watchdog.lowered_priority = True
    list(ExpensiveScanner(seconds=0.2).scan(None))  # type: ignore[arg-type]
    now[0] += 1.0
    reading = watchdog.check()
    assert reading.cpu_percent > 5.0 and reading.interval_factor == 1


def test_over_the_memory_budget_the_next_scan_is_skipped(tmp_path: Path) -> None:
    scanner = GrowingScanner()
    service = AgentService(
        settings(tmp_path, memory_budget_mb=10.0), scanners=[scanner], machine="d" * 32
    )
    try:
        assert service.run_cycle().kind is not None
        skipped = service.run_cycle()
        assert skipped.kind is None and scanner.scans == 1
        assert service.health()["watchdog"] == "over-memory"
    finally:
        service.close()
