"""Signed agent updates, staged: real agents (started by the packaged launcher, as systemd
does) against a real collector. A signed release reaches the tagged half of the fleet and is
confirmed by the report it sends; a tampered package and a release signed by a foreign key are
refused; a release that never starts is rolled back, which halts its rollout."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from agent.updates import RESTART_EXIT_CODE, platform_name
from server.agents.updates import rollout_bucket
from signatures import write_keypair
from tests.e2e.conftest import LiveServer, run_cli

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "packaging" / "linux" / "launcher.sh"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _release(directory: Path, version: str, *, starts: bool = True) -> Path:
    """An agent package: this checkout's agent reporting ``version``, or one that cannot start."""
    tree = directory / f"tree-{version}"
    if starts:
        for package in ("agent", "signatures"):
            shutil.copytree(
                REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        init = tree / "agent" / "__init__.py"
        init.write_text(
            init.read_text().replace('__version__ = "0.1.0"', f'__version__ = "{version}"')
        )
        script = (
            "#!/bin/sh\n"
            'HERE=$(dirname "$(readlink -f "$0")")\n'
            f'PYTHONPATH="$HERE" exec {sys.executable} -m agent "$@"\n'
        )
    else:
        tree.mkdir(parents=True)
        script = "#!/bin/sh\necho 'this build is broken' >&2\nexit 1\n"
    executable = tree / "shadowmap-agent"
    executable.write_text(script)
    executable.chmod(0o755)
    archive = directory / f"shadowmap-agent-{version}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(tree.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


class Fleet:
    def __init__(self, server: LiveServer, root: Path, size: int, public_key: Path) -> None:
        self.server = server
        self.root = root
        base = root / "base-agent"
        base.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec {sys.executable} -m agent "$@"\n')
        base.chmod(0o755)
        self.base = base
        self.states: list[Path] = []
        for index in range(size):
            state = root / f"agent-{index}"
            state.mkdir()
            token = state / "enroll-token"
            token.write_text(server.enrollment_token())
            token.chmod(0o600)
            tags = "pilot" if index < size // 2 else "office"
            (state / "agent.toml").write_text(
                "[agent]\n"
                f'server_url = "{server.url}"\n'
                f'state_dir = "{state}"\n'
                f'enrollment_token_file = "{token}"\n'
                f'update_public_key = "{public_key}"\n'
                f'tags = "{tags}"\n'
                'scanners = "processes"\n'
                "network_capture = false\n"
                "scan_jitter_fraction = 0\n"
            )
            self.states.append(state)

    def start(self, index: int) -> subprocess.CompletedProcess[str]:
        """Start agent ``index`` through the launcher, for one scan cycle."""
        state = self.states[index]
        return subprocess.run(
            [str(LAUNCHER), "--config", str(state / "agent.toml"), "run", "--cycles", "1"],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=self.root,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(self.root),
                "SHADOWMAP_AGENT_BASE": str(self.base),
                "SHADOWMAP_AGENT_UPDATES_DIR": str(state / "updates"),
            },
        )

    def installed(self, index: int) -> str | None:
        current = self.states[index] / "updates" / "current"
        return os.readlink(current).split("/")[-1] if current.is_symlink() else None

    def agent_uid(self, index: int) -> str:
        return str(json.loads((self.states[index] / "credential.json").read_text())["agent_id"])

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.server.data_dir / "shadowmap.db") as db:
            return list(db.execute(sql, params))


def _publish(server: LiveServer, package: Path, version: str, key: Path, *extra: str) -> None:
    run_cli(
        "server",
        "agent-release",
        "publish",
        "--data-dir",
        str(server.data_dir),
        "--package",
        str(package),
        "--version",
        version,
        "--platform",
        platform_name(),
        "--signing-key",
        str(key),
        *extra,
    )


def _states(fleet: Fleet, version: str) -> dict[str, str]:
    rows = fleet.query(
        "SELECT agents.agent_uid, agent_update_states.state FROM agent_update_states "
        "JOIN agents ON agents.id = agent_update_states.agent_id "
        "JOIN agent_releases ON agent_releases.id = agent_update_states.release_id "
        "WHERE agent_releases.version = ?",
        version,
    )
    return {str(uid): str(state) for uid, state in rows}


def test_a_staged_signed_rollout_tampering_and_a_rollback(
    live_server: LiveServer, tmp_path: Path
) -> None:
    private, public = write_keypair(tmp_path / "keys")
    foreign, _ = write_keypair(tmp_path / "foreign")
    fleet = Fleet(live_server, tmp_path, size=4, public_key=public)

    # 1. A signed 0.2.0 offered to the pilot hosts (half the fleet) only.
    _publish(live_server, _release(tmp_path, "0.2.0"), "0.2.0", private, "--tags", "pilot")
    exits = [fleet.start(index).returncode for index in range(4)]
    assert exits == [RESTART_EXIT_CODE, RESTART_EXIT_CODE, 0, 0]
    assert [fleet.installed(index) for index in range(4)] == ["0.2.0", "0.2.0", None, None]
    # Restarted into 0.2.0, the pilots report with it, which confirms the update.
    for index in (0, 1):
        restarted = fleet.start(index)
        assert restarted.returncode == 0, restarted.stderr
        assert "agent update 0.2.0 confirmed" in restarted.stderr
        assert not (fleet.states[index] / "updates" / "pending").exists()
    versions = sorted(str(row[0]) for row in fleet.query("SELECT agent_version FROM hosts"))
    assert versions == ["0.1.0", "0.1.0", "0.2.0", "0.2.0"]
    pilots = {fleet.agent_uid(0), fleet.agent_uid(1)}
    assert _states(fleet, "0.2.0") == dict.fromkeys(pilots, "installed")

    # 2. A package swapped on the server's disk after signing is refused.
    package = _release(tmp_path, "0.3.0")
    _publish(live_server, package, "0.3.0", private, "--percent", "100")
    (stored,) = (live_server.data_dir / "agent-releases").rglob("shadowmap-agent-0.3.0.tar.gz")
    forged = io.BytesIO()
    with tarfile.open(fileobj=forged, mode="w:gz") as tar:
        info = tarfile.TarInfo("shadowmap-agent")
        payload = b"#!/bin/sh\necho pwned\n"
        info.size, info.mode = len(payload), 0o755
        tar.addfile(info, io.BytesIO(payload))
    stored.write_bytes(forged.getvalue().ljust(len(package.read_bytes()), b"\0"))
    refused = fleet.start(2)
    assert refused.returncode == 0
    assert "refused agent update 0.3.0: the package does not match the signed digest" in (
        refused.stderr
    )
    assert fleet.installed(2) is None
    assert _states(fleet, "0.3.0")[fleet.agent_uid(2)] == "refused"

    # 3. A release signed with a key the agents were not packaged with is refused too.
    _publish(live_server, _release(tmp_path, "0.3.1"), "0.3.1", foreign, "--percent", "100")
    foreign_run = fleet.start(3)
    assert foreign_run.returncode == 0
    assert "refused agent update 0.3.1: the release is signed by key" in foreign_run.stderr
    assert fleet.installed(3) is None

    # 4. 0.4.0 cannot start: the launcher rolls it back to 0.2.0, which tells the collector,
    #    and the rollout halts before it reaches the next host.
    _publish(
        live_server, _release(tmp_path, "0.4.0", starts=False), "0.4.0", private, "--percent", "100"
    )
    assert fleet.start(0).returncode == RESTART_EXIT_CODE
    assert fleet.installed(0) == "0.4.0"
    for _attempt in range(3):
        assert fleet.start(0).returncode == 1  # systemd would restart it each time
    recovered = fleet.start(0)
    assert recovered.returncode == 0, recovered.stderr
    assert "update 0.4.0 did not start 3 times; rolled back" in recovered.stderr
    assert fleet.installed(0) == "0.2.0"
    assert _states(fleet, "0.4.0")[fleet.agent_uid(0)] == "rolled-back"
    assert fleet.query("SELECT state FROM agent_releases WHERE version = '0.4.0'") == [("halted",)]
    untouched = fleet.start(1)
    assert untouched.returncode == 0 and fleet.installed(1) == "0.2.0"

    listing = run_cli("server", "agent-release", "list", "--data-dir", str(live_server.data_dir))
    assert "0.4.0  halted" in listing.stdout and "rolled-back" in listing.stdout


def test_the_percentage_cohort_is_stable_and_about_the_share_asked() -> None:
    uids = [f"agent-{index:05d}" for index in range(4000)]
    in_half = [uid for uid in uids if rollout_bucket(uid, "2.0.0") < 50]
    assert 1800 < len(in_half) < 2200
    assert in_half == [uid for uid in uids if rollout_bucket(uid, "2.0.0") < 50]
    # Each release draws its own cohort, so the same hosts are not always first.
    again = {uid for uid in uids if rollout_bucket(uid, "2.1.0") < 50}
    assert 0.3 < len(again & set(in_half)) / len(in_half) < 0.7
