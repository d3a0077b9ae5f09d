"""A long collector outage: the spool compacts without locking up and the agent never goes silent.

A real `shadowmap-agent run` process scans a real home (through the live user database of a
private mount namespace) while the collector it enrolled with is down, until its spool is over
budget and compacts. A cycle that hangs is noticed, logged, and told to a real collector.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.service import AgentService
from agent.spool import Spool
from tests.agent.helpers import (
    NEEDS_MOUNT_NAMESPACE,
    FleetingScanner,
    HangingScanner,
    can_use_mount_namespace,
    home_with_models,
    settings,
    with_users,
)
from tests.e2e.conftest import LiveServer, free_port, run_cli, start_server

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

# 36 model files make a full report of about 16 KB: four fit in the 64 KiB spool, the fifth
# cycle's does not, and the spool compacts.
MODEL_FILES = 36
SPOOL_MAX_BYTES = 65536
CYCLES = 7


def _enrolled_then_down(tmp_path: Path) -> tuple[str, Path]:
    """Enroll an agent with a real collector, then stop the collector; return (url, state)."""
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    token = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(data_dir)
    ).stdout.strip()
    server = start_server(data_dir)
    state = tmp_path / "state"
    try:
        run_cli(
            "agent", "enroll", "--server", server.url, "--token", token, "--state-dir", str(state)
        )
    finally:
        server.stop()
    return server.url, state


@pytest.mark.skipif(not can_use_mount_namespace(), reason=NEEDS_MOUNT_NAMESPACE)
def test_run_keeps_cycling_through_spool_compaction_while_the_collector_is_down(
    tmp_path: Path,
) -> None:
    url, state = _enrolled_then_down(tmp_path)
    passwd = home_with_models(
        tmp_path,
        "alice",
        (f"model-{index:03d}-instruct-q4_k_m.gguf".encode() for index in range(MODEL_FILES)),
    )
    config = tmp_path / "agent.toml"
    config.write_text(
        "[agent]\n"
        f'server_url = "{url}"\n'
        'scanners = "model_files"\n'
        "scan_interval_seconds = 1\n"
        "scan_jitter_fraction = 0\n"
        "full_report_every = 1\n"
        f"spool_max_bytes = {SPOOL_MAX_BYTES}\n"
        "network_capture = false\n"
    )
    argv = [sys.executable, "-m", "agent", "--config", str(config), "run"]
    argv += ["--cycles", str(CYCLES), "--state-dir", str(state)]
    process = subprocess.Popen(
        with_users(passwd, argv),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
        pytest.fail(f"`run` locked up: {CYCLES} cycles did not end within 90 s\n{err[-2000:]}")
    assert process.returncode == 0, err

    spool = Spool(state, max_bytes=SPOOL_MAX_BYTES)
    try:
        stats = spool.stats()
        queued = spool.peek()
    finally:
        spool.close()
    assert stats.compactions >= 1, "the spool never went over budget: the test proves nothing"
    assert stats.bytes <= SPOOL_MAX_BYTES
    assert queued is not None and b'"kind":"full"' in queued.body
    assert queued.body.count(b"instruct-q4_k_m.gguf") >= MODEL_FILES


def test_a_stuck_cycle_is_logged_and_reported_in_the_health(
    live_server: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token_file = tmp_path / "enroll-token"
    token_file.write_text(live_server.enrollment_token())
    scanner = HangingScanner(hang_from=2)
    service = AgentService(
        settings(
            tmp_path / "agent",
            live_server.url,
            enrollment_token_file=str(token_file),
            scan_interval_seconds=1.0,
            scan_jitter_fraction=0.0,
            cycle_timeout_seconds=1.0,
        ),
        scanners=[scanner],
        machine="b" * 32,
    )
    runner = threading.Thread(target=service.run, kwargs={"max_cycles": 2})
    runner.start()
    try:
        health = _wait_for_health(live_server, lambda doc: doc.get("cycle_status") == "overrun")
        assert scanner.scans == 2 and runner.is_alive()  # the second cycle is still stuck
    finally:
        scanner.release.set()
        runner.join(timeout=60)
    assert not runner.is_alive()
    assert health["cycle_stage"] == "scan:hanging"
    assert isinstance(health["cycle_overrun_seconds"], int) and health["cycle_overrun_seconds"] >= 1
    assert health["cycle_overruns"] == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("scan cycle overrun" in message and "scan:hanging" in message for message in errors)
    assert any("overrunning scan cycle ended" in r.getMessage() for r in caplog.records)
    assert service.cycle_overrun_seconds() is None and service.health()["cycle_status"] == "ok"


def _wait_for_health(
    server: LiveServer, done: Callable[[dict[str, object]], bool], timeout: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    seen: dict[str, object] = {}
    while time.monotonic() < deadline:
        with sqlite3.connect(server.data_dir / "shadowmap.db") as db:
            row = db.execute("SELECT health FROM hosts").fetchone()
        seen = json.loads(row[0]) if row and row[0] else {}
        if done(seen):
            return seen
        time.sleep(0.2)
    pytest.fail(f"the collector never heard of it; last health: {seen}")


def test_findings_that_come_and_go_survive_compaction_in_an_outage(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    token_file = tmp_path / "enroll-token"
    token_file.write_text(
        run_cli(
            "server", "enroll-token", "create", "--quiet", "--data-dir", str(data_dir)
        ).stdout.strip()
    )
    port = free_port()
    server = start_server(data_dir, port=port)
    scanner = FleetingScanner(per_scan=2)
    service = AgentService(
        settings(
            tmp_path / "agent",
            server.url,
            enrollment_token_file=str(token_file),
            full_report_every=1000,
            spool_max_bytes=SPOOL_MAX_BYTES,
        ),
        scanners=[scanner],
        machine="c" * 32,
    )
    try:
        first = service.run_cycle()
        assert first.delivered == [first.report_id], service.health()["last_delivery_error"]
        server.stop()
        while service.spool.stats().compactions < 2:  # down until the spool compacted twice
            assert service.run_cycle().delivered == []
            assert scanner.scans < 400, "the spool never went over budget"
        down = scanner.scans - 1
        health = service.health()
        assert health["spool_dropped_findings"] == 0
        server = start_server(data_dir, port=port)
        service.deliver()
        service.run_cycle()
        assert service.spool.stats().reports == 0
    finally:
        service.close()
        server.stop()

    with sqlite3.connect(data_dir / "shadowmap.db") as db:
        stored = set(db.execute("SELECT indicator, user_name FROM sightings"))
    print(
        f"outage of {down} cycles: {len(scanner.produced)} findings produced, {len(stored)} stored"
    )
    assert stored == scanner.produced
