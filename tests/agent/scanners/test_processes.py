"""Running processes, with real long-running processes spawned by the test."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from agent.addressbook import AddressBook
from agent.runner import run_scan
from agent.scanners import processes
from agent.scanners.base import Observation, ScanContext, ScanItem
from agent.scanners.processes import ProcessScanner
from signatures import IndicatorKind, Matcher, assess
from tests.agent.scanners.helpers import PROMPT, SECRET, run


def test_real_process_is_observed_with_redacted_args(
    claude_like: subprocess.Popen[bytes], matcher: Matcher
) -> None:
    observations, errors = run(ProcessScanner(), ScanContext())
    assert errors == []
    ours = [o for o in observations if o.evidence["pid"] == claude_like.pid]
    assert len(ours) == 1
    found = ours[0]
    assert found.indicator.startswith("python")
    assert found.evidence["parent"] is not None
    assert found.evidence["ppid"] == psutil.Process(claude_like.pid).ppid()
    assert isinstance(found.evidence["started_at"], str)
    assert found.user == psutil.Process(claude_like.pid).username()
    evidence_text = json.dumps(dict(found.evidence))
    assert SECRET not in evidence_text
    assert PROMPT not in evidence_text
    assert "@anthropic-ai/claude-code" in evidence_text
    assert "--api-key" in evidence_text

    # Only our process: another one on this host with the same marker and owner would be
    # merged with it into one finding, and might come first.
    result = run_scan(ScanContext(), (_OnlyPid(claude_like.pid),), matcher)
    assert [(f.service_id, f.confidence.value) for f in result.findings] == [
        ("anthropic-claude-code", "high")
    ]
    assert SECRET not in json.dumps(result.findings[0].to_dict())


class _OnlyPid:
    name = "processes"
    platforms = ProcessScanner.platforms
    live = True

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for item in ProcessScanner().scan(ctx):
            if isinstance(item, Observation) and item.evidence.get("pid") == self.pid:
                yield item


class _FakeProcess:
    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.pid = info["pid"]


def test_denied_and_missing_fields_are_skipped_per_field(monkeypatch: pytest.MonkeyPatch) -> None:
    infos = [
        {
            "pid": 10,
            "name": "Cursor",
            "exe": None,
            "cmdline": None,
            "username": None,
            "ppid": 1,
            "create_time": None,
        },  # every protected field came back as None
        {
            "pid": 11,
            "name": None,
            "exe": None,
            "cmdline": None,
            "username": None,
            "ppid": None,
            "create_time": None,
        },  # vanished before its name could be read
        {
            "pid": 1,
            "name": "init",
            "exe": "/sbin/init",
            "cmdline": ["/sbin/init"],
            "username": "root",
            "ppid": 0,
            "create_time": 1.0,
        },
    ]

    def fake_iter(attrs: list[str], ad_value: object) -> Iterator[_FakeProcess]:
        assert ad_value is None
        assert "cmdline" in attrs and "username" in attrs
        return iter([_FakeProcess(info) for info in infos])

    monkeypatch.setattr(processes.psutil, "process_iter", fake_iter)
    # As on macOS and Windows, where psutil reads the username itself.
    observations, errors = run(ProcessScanner(), ScanContext(platform="darwin"))
    assert errors == []
    assert [o.indicator for o in observations] == ["Cursor", "init"]
    cursor = observations[0]
    assert cursor.evidence["parent"] == "init"
    assert cursor.evidence["exe"] is None
    assert cursor.user is None
    assert "args" not in cursor.evidence


def test_remote_hosts_hint_lets_heuristics_flag_unknown_processes(
    monkeypatch: pytest.MonkeyPatch, matcher: Matcher
) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import socket, time\n"
                f"s = socket.create_connection(('127.0.0.1', {port}))\n"
                "time.sleep(60)"
            ),
        ]
    )
    accepted, _ = server.accept()
    try:
        book = AddressBook(["api.openai.com"], resolve=lambda name: (["127.0.0.1"], 300))
        book.refresh()
        monkeypatch.setattr(processes, "is_public", lambda address: True)  # loopback stands in
        observations, _ = run(ProcessScanner(book), ScanContext())
        mine = next(o for o in observations if o.evidence["pid"] == child.pid)
        assert mine.hints["remote_hosts"] == ["api.openai.com"]
    finally:
        child.kill()
        child.wait()
        accepted.close()
        server.close()
    verdict = assess(
        matcher,
        IndicatorKind.PROCESS,
        "my-internal-tool",
        {"remote_hosts": ["api.openai.com"]},
    )
    assert verdict is not None and verdict.related_service == "openai-api"
