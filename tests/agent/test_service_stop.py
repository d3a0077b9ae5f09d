"""Stopping `run` while a delivery is under way: the job finishes before the spool closes, so
nothing is written to a closed spool and the queued report stays for the next start."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from agent.service import AgentService
from tests.agent.helpers import GrowingScanner, settings
from tests.server.receivers import Receiver


def test_a_stop_during_a_delivery_waits_for_it_and_keeps_the_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    collector = Receiver()  # answers every request only when released
    collector.hold = threading.Event()
    collector.status = 503
    token_file = tmp_path / "enroll-token"
    token_file.write_text("token\n")
    service = AgentService(
        settings(
            tmp_path / "agent",
            collector.url.removesuffix("/hook"),
            enrollment_token_file=str(token_file),
            scan_jitter_fraction=0.0,  # the first cycle at once
        ),
        scanners=[GrowingScanner()],
        machine="b" * 32,
    )
    returned: list[int] = []
    running = threading.Thread(target=lambda: returned.append(service.run()), daemon=True)
    caplog.set_level(logging.ERROR)
    try:
        running.start()
        assert collector.arrived.acquire(timeout=60), "the agent never called the collector"
        service.stop()
        running.join(timeout=1)
        # The job under way holds run() open until its call ends...
        assert running.is_alive()
        collector.hold.set()
        running.join(timeout=60)
        assert not running.is_alive()
    finally:
        collector.close()
    assert returned and returned[0] >= 1
    problems = [r.getMessage() + str(r.exc_info) for r in caplog.records]
    assert not [p for p in problems if "closed database" in p], problems
    # ...and the report it could not deliver is still queued for the next start.
    again = AgentService(
        settings(tmp_path / "agent", "", enrollment_token_file=str(token_file)),
        scanners=[],
        machine="b" * 32,
    )
    try:
        assert again.spool.stats().reports >= 1
    finally:
        again.close()
