"""The real agent CLI against the real server process, checked over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, run_cli

# Real server and agent processes: the quick run (-m "not slow") leaves them out.
pytestmark = pytest.mark.slow


@pytest.fixture
def claude_code_process(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    script = tmp_path / "lib" / "node_modules" / "@anthropic-ai" / "claude-code" / "cli.js"
    script.parent.mkdir(parents=True)
    script.write_text("# stand-in entry point\n")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(script)])
    time.sleep(0.2)
    yield process
    process.kill()
    process.wait()


def test_agent_scan_lands_in_the_server_inventory(
    live_server: LiveServer, tmp_path: Path, claude_code_process: subprocess.Popen[bytes]
) -> None:
    state = tmp_path / "agent-state"
    run_cli(
        "agent",
        "enroll",
        "--server",
        live_server.url,
        "--token",
        live_server.enrollment_token(),
        "--state-dir",
        str(state),
    )
    sent = run_cli(
        "agent", "scan", "--once", "--server", live_server.url, "--state-dir", str(state)
    )
    assert "collector: stored" in sent.stdout

    with closing(live_server.signed_in_client()) as client:
        items = {item["service_id"]: item for item in client.get("/api/v1/inventory").json()}
        hosts = client.get("/api/v1/hosts").json()
        assert "anthropic-claude-code" in items
        claude = items["anthropic-claude-code"]
        # The process, and (on a machine where Claude Code is used) its ~/.claude footprint.
        assert claude["host_count"] == 1 and "process" in claude["evidence_kinds"]
        assert set(claude["evidence_kinds"]) <= {"process", "app"}
        assert len(hosts) == 1 and not hosts[0]["stale"]
        assert hosts[0]["agent_version"] == "0.1.0"

        # A second scan updates the same item rather than adding one.
        run_cli("agent", "scan", "--once", "--server", live_server.url, "--state-dir", str(state))
        again = client.get("/api/v1/inventory").json()
        assert [i["service_id"] for i in again].count("anthropic-claude-code") == 1
        assert len(client.get("/api/v1/hosts").json()) == 1

        page = client.get(f"/inventory/{claude['id']}")
        assert "Claude Code" in page.text and hosts[0]["hostname"] in page.text


def test_agent_enrollment_with_a_revoked_token_fails_cleanly(
    live_server: LiveServer, tmp_path: Path
) -> None:
    token = live_server.enrollment_token()
    run_cli("server", "enroll-token", "revoke", "1", "--data-dir", str(live_server.data_dir))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "enroll",
            "--server",
            live_server.url,
            "--token",
            token,
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "403" in result.stderr and "revoked" in result.stderr
    assert not (tmp_path / "credential.json").exists()
