"""The collector down for many scan cycles, then back: every finding arrives exactly once.

A real `shadowmap serve` process is stopped and restarted on the same data directory and port
while the agent keeps scanning into its spool.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.service import AgentService
from signatures import ReportKind
from tests.agent.helpers import GrowingScanner, settings
from tests.e2e.conftest import free_port, run_cli, start_server

pytestmark = pytest.mark.slow

UP_BEFORE, DOWN, UP_AFTER = 3, 12, 3


def test_findings_survive_a_collector_outage_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    token = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(data_dir)
    ).stdout.strip()
    token_file = tmp_path / "enroll-token"
    token_file.write_text(token + "\n")
    port = free_port()
    server = start_server(data_dir, port=port)
    scanner = GrowingScanner()
    service = AgentService(
        settings(
            tmp_path / "agent",
            server.url,
            enrollment_token_file=str(token_file),
            full_report_every=1000,
        ),
        scanners=[scanner],
        machine="a" * 32,
    )
    queued: list[str] = []
    kinds: list[ReportKind | None] = []
    try:
        for _ in range(UP_BEFORE):
            cycle = service.run_cycle()
            queued.append(cycle.report_id or "")
            kinds.append(cycle.kind)
            assert cycle.delivered == [cycle.report_id], service.health()["last_delivery_error"]
        server.stop()
        for _ in range(DOWN):
            cycle = service.run_cycle()
            queued.append(cycle.report_id or "")
            kinds.append(cycle.kind)
            assert cycle.delivered == []
        assert service.spool.stats().reports == DOWN
        assert service.health()["spool_reports"] == DOWN
        assert "cannot reach the collector" in str(service.health()["last_delivery_error"])
        server = start_server(data_dir, port=port)
        for _ in range(UP_AFTER):
            service.deliver()  # the retry job would do this; call it as the scheduler does
            cycle = service.run_cycle()
            queued.append(cycle.report_id or "")
            kinds.append(cycle.kind)
        assert service.spool.stats().reports == 0
    finally:
        service.close()
        server.stop()

    assert kinds[0] is ReportKind.FULL and set(kinds[1:]) == {ReportKind.DELTA}
    with sqlite3.connect(data_dir / "shadowmap.db") as db:
        stored_reports = [row[0] for row in db.execute("SELECT report_uid FROM reports")]
        sightings = db.execute(
            "SELECT indicator, user_name FROM sightings WHERE indicator = 'api.openai.com'"
        ).fetchall()
    produced = scanner.produced
    figures = {
        "cycles": UP_BEFORE + DOWN + UP_AFTER,
        "cycles_while_down": DOWN,
        "findings_produced": len(produced),
        "findings_stored": len(sightings),
        "distinct_findings_stored": len(set(sightings)),
        "reports_queued": len(queued),
        "reports_stored": len(stored_reports),
        "distinct_reports_stored": len(set(stored_reports)),
    }
    print(f"outage figures: {figures}")
    assert set(sightings) == produced
    assert len(sightings) == len(produced) == UP_BEFORE + DOWN + UP_AFTER
    assert sorted(stored_reports) == sorted(queued)
