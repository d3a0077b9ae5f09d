"""The offline spool: ordering, heartbeats, compaction under a byte budget, baseline deltas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from agent.service import plan_report
from agent.spool import Spool, finding_fingerprint, finding_key
from signatures import Finding, Report, ReportKind
from tests.factories import T0, finding, report


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

    def full_state(findings: list[Finding]) -> Report:
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
    later = T0 + dt.timedelta(hours=1)
    seen = finding(user="alice", seen=T0)
    baseline_spool_row = {finding_key(seen): (finding_fingerprint(seen), seen)}
    again = finding(user="alice", seen=later, evidence={"pid": 7})  # only a volatile pid changed
    kind, sent, state = plan_report(baseline_spool_row, [again], full=False)
    assert kind is ReportKind.HEARTBEAT and sent == []
    assert state[0].first_seen == T0 and state[0].last_seen == later

    changed = finding(user="alice", seen=later, evidence={"pid": 7, "version": "2"})
    kind, sent, _ = plan_report(baseline_spool_row, [changed, finding(user="bob")], full=False)
    assert kind is ReportKind.DELTA
    assert [f.user for f in sent] == ["alice", "bob"]
    assert sent[0].first_seen == T0

    kind, sent, _ = plan_report(baseline_spool_row, [again], full=True)
    assert kind is ReportKind.FULL and len(sent) == 1
