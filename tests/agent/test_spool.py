"""The offline spool: ordering, heartbeats, compaction under a byte budget, baseline deltas."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from agent.evidence import volatile_fields
from agent.scanners.processes import ProcessScanner
from agent.service import AgentService, plan_report
from agent.spool import Spool, finding_fingerprint, finding_key
from signatures import Finding, Report, ReportKind, format_time
from tests.agent.helpers import FleetingScanner, settings
from tests.factories import T0, finding, report

# A command line that matches Claude Code's catalogue marker.
CLAUDE_CODE = [
    sys.executable,
    "-c",
    "import time; time.sleep(120)",
    "/usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js",
]


def _report(kind: ReportKind, findings: list[Finding]) -> Report:
    base = report(findings)
    return Report(
        report_id=Report.new_id(),
        kind=kind,
        agent=base.agent,
        host=base.host,
        generated_at=base.generated_at,
        findings=findings,
    )


def _users(count: int) -> list[Finding]:
    return [finding(user=f"user-{index}", evidence={"note": "x" * 200}) for index in range(count)]


def test_reports_leave_in_order_and_only_when_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    first, second = _report(ReportKind.FULL, _users(1)), _report(ReportKind.DELTA, _users(2))
    spool.enqueue(first)
    spool.enqueue(second)
    queued = spool.peek()
    assert queued is not None and queued.report_id == first.report_id
    assert queued.body == first.to_json()
    spool.acknowledge(first.report_id)
    assert spool.report_ids() == [second.report_id]
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**6)
    assert reopened.report_ids() == [second.report_id]
    assert oct((tmp_path / "spool.db").stat().st_mode & 0o777) == "0o600"


def test_a_heartbeat_supersedes_queued_heartbeats_but_not_deltas(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10**6)
    delta = _report(ReportKind.DELTA, _users(1))
    spool.enqueue(delta)
    for _ in range(5):
        last = _report(ReportKind.HEARTBEAT, [])
        spool.enqueue(last)
    assert spool.report_ids() == [delta.report_id, last.report_id]


def test_over_budget_the_queue_is_compacted_into_the_latest_full_state(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=8_000)
    built: list[Report] = []

    def full_state(findings: list[Finding], dropping: int) -> Report:
        built.append(_report(ReportKind.FULL, findings))
        return built[-1]

    state: list[Finding] = []
    for index in range(40):
        new = finding(user=f"user-{index}", evidence={"note": "x" * 200})
        state = [*state, new]
        spool.enqueue(_report(ReportKind.DELTA, [new]), state=state, full_report=full_state)
        assert spool.stats().bytes <= 8_000 or spool.stats().reports == 1
    assert built, "the budget was never exceeded"
    stats = spool.stats()
    assert stats.compactions == len(built)
    # Nothing was dropped: the first queued report is a full state with every finding so far
    # (compaction happened), followed by the deltas queued since.
    queued_users: set[str | None] = set()
    while (queued := spool.peek()) is not None:
        queued_users |= {item["user"] for item in _json(queued.body)["findings"]}  # type: ignore[attr-defined]
        spool.acknowledge(queued.report_id)
    assert queued_users == {f"user-{index}" for index in range(40)}


def _json(body: bytes) -> dict[str, object]:
    doc: dict[str, object] = json.loads(body)
    return doc


def test_plan_report_sends_changes_keeps_first_seen_and_beats_when_quiet() -> None:
    volatile = volatile_fields([ProcessScanner.evidence])
    later = T0 + dt.timedelta(hours=1)
    seen = finding(user="alice", seen=T0)
    baseline_spool_row = {finding_key(seen): (finding_fingerprint(seen, volatile), seen)}
    again = finding(user="alice", seen=later, evidence={"pid": 7})  # only a volatile pid changed
    kind, sent, state = plan_report(baseline_spool_row, [again], full=False, volatile=volatile)
    assert kind is ReportKind.HEARTBEAT and sent == []
    assert state[0].first_seen == T0 and state[0].last_seen == later

    changed = finding(user="alice", seen=later, evidence={"pid": 7, "version": "2"})
    kind, sent, _ = plan_report(
        baseline_spool_row, [changed, finding(user="bob")], full=False, volatile=volatile
    )
    assert kind is ReportKind.DELTA
    assert [f.user for f in sent] == ["alice", "bob"]
    assert sent[0].first_seen == T0

    kind, sent, _ = plan_report(baseline_spool_row, [again], full=True, volatile=volatile)
    assert kind is ReportKind.FULL and len(sent) == 1


def _start_tool() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(CLAUDE_CODE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the kernel shows the final command line
        try:
            if "claude-code" in " ".join(psutil.Process(proc.pid).cmdline()):
                break
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.02)
    return proc


@pytest.fixture
def tool() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def _queued_findings(spool: Spool) -> list[list[dict[str, object]]]:
    queued = []
    while (item := spool.peek()) is not None:
        queued.append(json.loads(item.body)["findings"])
        spool.acknowledge(item.report_id)
    return queued


def _ours(findings: list[dict[str, object]], pid: int) -> list[dict[str, object]]:
    return [
        f
        for f in findings
        if f["service_id"] == "anthropic-claude-code"
        and isinstance(f["evidence"], dict)
        and f["evidence"].get("pid") == pid
    ]


@pytest.mark.slow
def test_a_restarted_tool_is_not_resent_as_changed(
    tmp_path: Path, tool: list[subprocess.Popen[bytes]]
) -> None:
    """A new pid and start time are volatile (declared so): the restart is not news."""
    service = AgentService(settings(tmp_path / "state"), scanners=[ProcessScanner()])
    assert {"pid", "ppid", "started_at"} <= service.spool.volatile_evidence
    first = _start_tool()
    tool.append(first)
    service.run_cycle()
    (full,) = _queued_findings(service.spool)
    before = _ours(full, first.pid)
    assert len(before) == 1
    started = psutil.Process(first.pid).create_time()
    first.kill()
    first.wait()
    while True:  # restart until the start time differs in its seconds, as reported
        again = _start_tool()
        tool.append(again)
        if int(psutil.Process(again.pid).create_time()) != int(started):
            break
        again.kill()
        again.wait()
        time.sleep(0.1)
    service.run_cycle()
    (queued,) = _queued_findings(service.spool)
    baseline = [f for _fp, f in service.spool.baseline().values()]
    now = [f for f in baseline if f.service_id == "anthropic-claude-code"]
    assert [f.evidence["pid"] for f in now] == [again.pid]
    assert now[0].evidence["started_at"] != before[0]["evidence"]["started_at"]  # type: ignore[index]
    assert _ours(queued, again.pid) == []  # the restart was not re-sent
    service.close()


def test_the_full_report_builder_may_read_the_spool(tmp_path: Path) -> None:
    """The builder asks the spool for its stats (for the health): that must not lock up."""
    spool = Spool(tmp_path, max_bytes=8_000)
    seen: list[int] = []

    def full_state(findings: list[Finding], dropping: int = 0) -> Report:
        seen.append(spool.stats().reports)
        return _report(ReportKind.FULL, findings)

    def fill() -> None:
        state: list[Finding] = []
        for new in _users(40):
            state = [*state, new]
            spool.enqueue(_report(ReportKind.DELTA, [new]), state=state, full_report=full_state)

    worker = threading.Thread(target=fill, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "enqueue locked up at the first compaction"
    assert seen and spool.stats().compactions == len(seen)


def test_compaction_keeps_queued_findings_the_latest_state_no_longer_has(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=20_000)

    def full_state(findings: list[Finding], dropping: int) -> Report:
        return _report(ReportKind.FULL, findings)

    for new in _users(40):  # each cycle sees one new user, and only that one
        spool.enqueue(_report(ReportKind.DELTA, [new]), state=[new], full_report=full_state)
    later = T0 + dt.timedelta(hours=1)
    again = finding(user="user-3", evidence={"note": "x" * 200}, seen=later)
    spool.enqueue(_report(ReportKind.DELTA, [again]), state=[again], full_report=full_state)
    stats = spool.stats()
    assert stats.compactions >= 1 and stats.dropped_findings == 0
    assert stats.bytes <= 20_000
    by_user: dict[object, dict[str, object]] = {}
    for findings in _queued_findings(spool):
        by_user.update({item["user"]: item for item in findings})
    assert set(by_user) == {f"user-{index}" for index in range(40)}
    assert by_user["user-3"]["last_seen"] == format_time(later)  # its latest version


def test_findings_the_budget_cannot_hold_are_dropped_oldest_first_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scanner = FleetingScanner(per_scan=10, padding=1500)
    service = AgentService(settings(tmp_path / "state", spool_max_bytes=65536), scanners=[scanner])
    try:
        for _ in range(8):
            service.run_cycle()
        stats = service.spool.stats()
        assert stats.compactions >= 1 and stats.dropped_findings > 0
        assert stats.bytes <= 65536
        health = service.health()
        assert health["spool_dropped_findings"] == stats.dropped_findings
        (queued,) = _queued_findings_and_health(service.spool)
    finally:
        service.close()
    findings, report_health = queued
    users = {item["user"] for item in findings}
    kept_scans = {str(user).split("-")[1] for user in users}
    # The latest scan's findings are all there; the ones left out are the oldest.
    assert {f"scan-{scanner.scans:04d}-user-{index}" for index in range(10)} <= users
    assert "0001" not in kept_scans and min(kept_scans) > "0001"
    assert len(users) + stats.dropped_findings == len(scanner.produced)
    assert report_health["spool_dropped_findings"] == stats.dropped_findings
    assert any("left out of the compacted report" in r.getMessage() for r in caplog.records)


def _queued_findings_and_health(
    spool: Spool,
) -> list[tuple[list[dict[str, object]], dict[str, object]]]:
    queued = []
    while (item := spool.peek()) is not None:
        doc = json.loads(item.body)
        queued.append((doc["findings"], doc["health"]))
        spool.acknowledge(item.report_id)
    return queued
