"""The agent CLI against real processes and files on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKER = "@anthropic-ai/claude-code"


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


@pytest.fixture
def claude_code_process(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real long-running process whose command line is that of Claude Code."""
    script = tmp_path / "node_modules" / "@anthropic-ai" / "claude-code" / "cli.js"
    script.parent.mkdir(parents=True)
    script.write_text("# stand-in entry point\n")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(script)])
    time.sleep(0.2)
    yield process
    process.kill()
    process.wait()


def test_scan_once_json_finds_a_running_ai_cli(
    claude_code_process: subprocess.Popen[bytes],
) -> None:
    result = agent("scan", "--once", "--json", "--only", "processes")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    ours = [f for f in document["findings"] if f["evidence"].get("pid") == claude_code_process.pid]
    assert len(ours) == 1
    assert ours[0]["service_id"] == "anthropic-claude-code"
    assert ours[0]["kind"] == "process" and ours[0]["confidence"] == "high"
    assert ours[0]["evidence"]["matched"] == f"cmdline:{MARKER}"
    # Only the fact of use leaves the host: no command line in the evidence.
    assert "cmdline" not in ours[0]["evidence"]
    assert "time.sleep" not in result.stdout


def test_scan_without_a_destination_is_a_usage_error() -> None:
    result = agent("scan", "--once")
    assert result.returncode == 2
    assert "--json" in result.stderr and "--server" in result.stderr


def test_unknown_scanner_is_named() -> None:
    result = agent("scan", "--once", "--json", "--only", "telepathy")
    assert result.returncode == 2
    assert "telepathy" in result.stderr and "processes" in result.stderr


def test_sending_without_enrollment_says_how_to_enroll(tmp_path: Path) -> None:
    result = agent("scan", "--once", "--server", "http://127.0.0.1:9", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert "shadowmap-agent enroll" in result.stderr


def test_usernames_are_pseudonymised_when_configured(
    claude_code_process: subprocess.Popen[bytes],
) -> None:
    import getpass

    env = {
        "SHADOWMAP_AGENT_PSEUDONYMISE_USERS": "true",
        "SHADOWMAP_AGENT_PSEUDONYM_KEY": "fleet-wide secret key",
    }
    result = agent("scan", "--once", "--json", "--only", "processes", env=env)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert findings, "the Claude Code process should be found"
    me = getpass.getuser()
    assert all(f["user"] != me and f["user"].startswith("user-") for f in findings)
    again = json.loads(agent("scan", "--once", "--json", "--only", "processes", env=env).stdout)[
        "findings"
    ]
    assert {f["user"] for f in again} == {f["user"] for f in findings}  # stable pseudonyms

    refused = agent("scan", "--once", "--json", env={"SHADOWMAP_AGENT_PSEUDONYMISE_USERS": "1"})
    assert refused.returncode == 1 and "pseudonym_key" in refused.stderr
