"""The spool under hostile conditions: kill -9 mid-write, and a full disk."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import SpoolError
from agent.service import AgentService
from agent.spool import Spool
from tests.agent.helpers import GrowingScanner, settings

REPO = Path(__file__).resolve().parents[2]

# Queues reports as fast as it can; prints each report id once its transaction committed.
WRITER = """
import sys
from pathlib import Path
from agent.spool import Spool
from tests.factories import finding, report

spool = Spool(Path(sys.argv[1]), max_bytes=64 * 1024)
state = []
index = 0
while True:
    index += 1
    new = finding(user=f"u{sys.argv[2]}-{index}", evidence={"pad": "x" * 500})
    state.append(new)
    sent = report([new])
    spool.enqueue(sent, state=state, full_report=lambda findings, _dropping: report(findings))
    print(sent.report_id, flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_spool_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(6)
    for round_number in range(12):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(round_number)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        first = writer.stdout.readline()  # the interpreter has started and is writing
        time.sleep(rng.random() * 0.4)
        writer.send_signal(signal.SIGKILL)
        output, _ = writer.communicate()
        assert writer.returncode == -signal.SIGKILL
        lines = (first + output).split("\n")
        # The last line may be cut mid-write; every complete line was committed first.
        committed = [line for line in lines[:-1] if line]
        assert committed, "the writer never committed"
        with sqlite3.connect(tmp_path / "spool.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        spool = Spool(tmp_path, max_bytes=64 * 1024)
        queued = spool.report_ids()
        compacted = spool.stats().compactions > 0
        bodies = []
        while (item := spool.peek()) is not None:
            bodies.append(json.loads(item.body))
            spool.acknowledge(item.report_id)
        spool.close()
        users_queued = {f["user"] for body in bodies for f in body["findings"]}
        # A report committed before the kill is either still queued or was compacted into a
        # full state that carries its findings.
        for report_id in committed:
            assert report_id in queued or compacted
        assert {f"u{round_number}-{i}" for i in range(1, len(committed) + 1)} <= users_queued


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, so the disk really fills up (needs root to mount)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError:
        pass  # ENOSPC: the disk is full, as wanted
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_fails_the_write_cleanly_and_loses_no_finding(tiny_disk: Path) -> None:
    scanner = GrowingScanner()
    service = AgentService(settings(tiny_disk / "agent"), scanners=[scanner], machine="m")
    try:
        assert service.run_cycle().report_id is not None
        filler = _fill(tiny_disk)
        failed = [service.run_cycle() for _ in range(3)]
        assert all(cycle.report_id is None for cycle in failed)
        assert "spool write failed" in service.delivery.last_error
        assert len(service.spool.baseline()) == 1  # the failed cycles changed nothing
        filler.unlink()
        recovered = service.run_cycle()
        assert recovered.report_id is not None
        # The delta after the outage carries every finding the failed cycles could not queue.
        queued_users = set()
        while (item := service.spool.peek()) is not None:
            queued_users |= {f["user"] for f in json.loads(item.body)["findings"]}
            service.spool.acknowledge(item.report_id)
        assert queued_users == {user for _, user in scanner.produced}
        assert len(service.spool.baseline()) == 5
    finally:
        service.close()


def test_opening_a_spool_in_an_unwritable_place_is_a_named_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool(blocker / "state", max_bytes=10**6)
