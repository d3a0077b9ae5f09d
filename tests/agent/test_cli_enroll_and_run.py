"""`shadowmap-agent enroll` and `run` against a real collector process."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, run_cli

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def create_enrollment_token(server: LiveServer, *options: str) -> tuple[int, str]:
    out = run_cli(
        "server", "enroll-token", "create", *options, "--data-dir", str(server.data_dir)
    ).stdout
    # "enrollment token #3 'default': smet_..."
    token_id = int(out.split("#", 1)[1].split(" ", 1)[0])
    return token_id, out.split(": ", 1)[1].split()[0]


def _enroll(server: LiveServer, token: str, state: Path) -> subprocess.CompletedProcess[str]:
    return agent("enroll", "--server", server.url, "--token", token, "--state-dir", str(state))


def test_enroll_with_good_expired_reused_and_revoked_tokens(
    live_server: LiveServer, tmp_path: Path
) -> None:
    _, once = create_enrollment_token(live_server, "--uses", "1")
    good = _enroll(live_server, once, tmp_path / "a")
    assert good.returncode == 0, good.stderr
    assert "enrolled agent" in good.stdout
    credential = tmp_path / "a" / "credential.json"
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert json.loads(credential.read_text())["secret"].startswith("smag_")

    reused = _enroll(live_server, once, tmp_path / "b")
    assert reused.returncode == 1 and "used up" in reused.stderr

    expired_id, expired = create_enrollment_token(live_server, "--expires", "30m")
    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        # Half an hour cannot pass in a test: move the expiry into the past instead.
        db.execute(
            "UPDATE enrollment_tokens SET expires_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            (expired_id,),
        )
    refused = _enroll(live_server, expired, tmp_path / "c")
    assert refused.returncode == 1 and "expired" in refused.stderr

    token_id, revoked = create_enrollment_token(live_server)
    run_cli(
        "server", "enroll-token", "revoke", str(token_id), "--data-dir", str(live_server.data_dir)
    )
    refused = _enroll(live_server, revoked, tmp_path / "d")
    assert refused.returncode == 1 and "revoked" in refused.stderr

    unknown = _enroll(live_server, "smet_" + "x" * 40, tmp_path / "e")
    assert unknown.returncode == 1 and "unknown enrollment token" in unknown.stderr
    for name in "bcde":
        assert not (tmp_path / name / "credential.json").exists()


def test_enrolling_again_sends_the_held_credential_and_a_copy_without_it_is_refused(
    live_server: LiveServer, tmp_path: Path
) -> None:
    _, token = create_enrollment_token(live_server)
    state = tmp_path / "agent"
    assert _enroll(live_server, token, state).returncode == 0
    first = json.loads((state / "credential.json").read_text())
    # Enrolling again (a re-run installer) proves the id with the credential it holds.
    again = _enroll(live_server, token, state)
    assert again.returncode == 0, again.stderr
    second = json.loads((state / "credential.json").read_text())
    assert second["agent_id"] == first["agent_id"] and second["secret"] != first["secret"]
    # A copy of the identity without the credential (an attacker who read the agent id, or
    # lost state) is refused: the fleet token alone does not take the id over.
    (state / "credential.json").unlink()
    stolen = _enroll(live_server, token, state)
    assert stolen.returncode == 1 and "already enrolled" in stolen.stderr


def test_run_enrolls_from_a_token_file_and_reports_health(
    live_server: LiveServer, tmp_path: Path
) -> None:
    _, token = create_enrollment_token(live_server)
    token_file = tmp_path / "enroll-token"
    token_file.write_text(token)
    config = tmp_path / "agent.toml"
    config.write_text(
        "[agent]\n"
        f'server_url = "{live_server.url}"\n'
        f'enrollment_token_file = "{token_file}"\n'
        'scanners = "processes"\n'
        "scan_interval_seconds = 1\n"
        "full_report_every = 2\n"
        "network_capture = false\n"
    )
    result = agent(
        "--config", str(config), "run", "--cycles", "3", "--state-dir", str(tmp_path / "s")
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM reports ORDER BY id")]
        health = json.loads(db.execute("SELECT health FROM hosts").fetchone()[0])
    # Three cycles; a heartbeat only refreshes the host row, so it leaves no report row.
    assert 2 <= len(kinds) <= 3 and kinds[0] == "full"
    assert set(kinds[1:]) <= {"full", "delta"}
    assert health["agent_version"] and health["catalogue_version"]
    assert health["capture_status"] == "off"
    assert health["enrollment"] == "enrolled"
    assert {"spool_bytes", "scanner_errors", "cpu_percent", "rss_mb"} <= set(health)


def test_run_without_a_collector_is_a_usage_error(tmp_path: Path) -> None:
    result = agent("run", "--state-dir", str(tmp_path))
    assert result.returncode == 2 and "no collector" in result.stderr


def test_run_refuses_a_bad_setting_naming_it(tmp_path: Path) -> None:
    result = agent(
        "run",
        "--server",
        "http://127.0.0.1:9",
        env={"SHADOWMAP_AGENT_SCAN_JITTER_FRACTION": "2"},
    )
    assert result.returncode == 1
    assert "scan_jitter_fraction" in result.stderr and "at most" in result.stderr
