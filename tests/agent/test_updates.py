"""The agent's own rollback: an installed update that runs but delivers no report within
update_confirm_seconds goes back to the previous version and tells the collector."""

from __future__ import annotations

import os
import sqlite3
import tarfile
from pathlib import Path

import pytest

from agent.reporter import Reporter
from agent.updates import Updater, platform_name
from signatures import HostInfo, load_public_key, write_keypair
from tests.e2e.conftest import LiveServer, run_cli

pytestmark = pytest.mark.slow


def _package(directory: Path, version: str) -> Path:
    tree = directory / version
    tree.mkdir(parents=True)
    executable = tree / "shadowmap-agent"
    executable.write_text("#!/bin/sh\nexit 0\n")
    executable.chmod(0o755)
    archive = directory / f"agent-{version}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(executable, arcname="shadowmap-agent")
    return archive


def test_an_update_that_does_not_report_in_time_rolls_back_and_says_so(
    live_server: LiveServer, tmp_path: Path
) -> None:
    private, public = write_keypair(tmp_path / "keys")
    for version in ("0.2.0", "0.3.0"):
        run_cli(
            "server",
            "agent-release",
            "publish",
            "--data-dir",
            str(live_server.data_dir),
            "--package",
            str(_package(tmp_path / "packages", version)),
            "--version",
            version,
            "--platform",
            platform_name(),
            "--signing-key",
            str(private),
            "--percent",
            "100",
        )
    now = [1_000_000.0]
    updates = tmp_path / "state" / "updates"
    (tmp_path / "state").mkdir()

    def updater(running: str) -> Updater:
        return Updater(
            updates_dir=updates,
            public_key=load_public_key(public.read_bytes()),
            running_version=running,
            confirm_seconds=60,
            clock=lambda: now[0],
        )

    with Reporter(live_server.url) as reporter:
        credential = reporter.enroll(
            token=live_server.enrollment_token(),
            agent_id="agent-rollback-test",
            host=HostInfo(hostname="rollback", os="linux", os_version="", arch="x86_64"),
        )
        # 0.1.0 installs the newest release offered, 0.3.0, and asks for a restart.
        assert updater("0.1.0").after_cycle(reporter, credential, delivered=True) is True
        assert os.readlink(updates / "current") == "versions/0.3.0"
        # 0.3.0 runs but delivers nothing: within the deadline it waits...
        now[0] += 30
        assert updater("0.3.0").after_cycle(reporter, credential, delivered=False) is False
        # ...past it, it returns to the version before (the package's own: no current link).
        now[0] += 31
        assert updater("0.3.0").after_cycle(reporter, credential, delivered=False) is True
        assert not (updates / "current").exists()
        assert (updates / "rolled-back").read_text().startswith("0.3.0 no report delivered")
        # The version running again tells the collector, which halts 0.3.0's rollout; it is
        # then offered 0.2.0, not 0.3.0 again.
        assert updater("0.1.0").after_cycle(reporter, credential, delivered=True) is True
        assert os.readlink(updates / "current") == "versions/0.2.0"
    assert not (updates / "rolled-back").exists()
    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        states = dict(
            db.execute(
                "SELECT agent_releases.version, agent_update_states.state "
                "FROM agent_update_states JOIN agent_releases "
                "ON agent_releases.id = agent_update_states.release_id"
            ).fetchall()
        )
        halted = db.execute("SELECT state FROM agent_releases WHERE version = '0.3.0'").fetchone()
    assert states == {"0.3.0": "rolled-back", "0.2.0": "offered"}
    assert halted == ("halted",)
