"""Signed catalogue bundles travel from the collector to a real agent, verified on arrival."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, LiveServer, run_cli

# Real server and agent processes: the quick run (-m "not slow") leaves them out.
pytestmark = pytest.mark.slow


def agent_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def test_agent_fetches_verifies_and_uses_the_newest_bundle(
    live_server: LiveServer, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    run_cli("server", "signatures", "keygen", "--out", str(keys))
    private = keys / "signing-key.pem"
    public = keys / "signing-key.pub.pem"
    published = live_server.data_dir / "signatures"
    published.mkdir()
    run_cli(
        "server",
        "signatures",
        "build",
        "--key",
        str(private),
        "--out",
        str(published / "bundle-1.json"),
        "--bundle-version",
        "1",
    )

    state = tmp_path / "agent"
    env = {
        "SHADOWMAP_AGENT_SIGNATURE_PUBLIC_KEY": str(public),
        "SHADOWMAP_AGENT_SERVER_URL": live_server.url,
        "SHADOWMAP_AGENT_STATE_DIR": str(state),
    }
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

    first = agent_cli("update-signatures", env=env)
    assert first.returncode == 0, first.stderr
    assert "installed catalogue bundle 1" in first.stdout
    assert agent_cli("update-signatures", env=env).stdout.strip() == (
        "catalogue bundle already current"
    )

    # A bundle altered on the server is refused; the last good one stays in use.
    envelope = json.loads((published / "bundle-1.json").read_text())
    payload = json.loads(envelope["payload"])
    payload["bundle_version"] = 2
    payload["services"] = payload["services"][:3]
    envelope["payload"] = json.dumps(payload)
    (published / "bundle-2.json").write_text(json.dumps(envelope))
    tampered = agent_cli("update-signatures", env=env)
    assert tampered.returncode == 1
    assert "bad signature" in tampered.stderr

    sent = agent_cli("scan", "--once", env=env)
    assert sent.returncode == 0, sent.stderr
    installed = json.loads(
        json.loads((state / "signatures" / "current.json").read_text())["payload"]
    )
    with closing(live_server.signed_in_client()) as client:
        (host,) = client.get("/api/v1/hosts").json()
    assert host["catalogue_version"] == installed["catalogue_version"]
    assert len(installed["services"]) > 500

    # The running service picks up a newer good bundle by itself before its full report.
    run_cli(
        "server",
        "signatures",
        "build",
        "--key",
        str(private),
        "--out",
        str(published / "bundle-3.json"),
        "--bundle-version",
        "3",
    )
    ran = agent_cli("run", "--cycles", "1", env={**env, "SHADOWMAP_AGENT_NETWORK_CAPTURE": "false"})
    assert ran.returncode == 0, ran.stderr
    current = json.loads(json.loads((state / "signatures" / "current.json").read_text())["payload"])
    assert current["bundle_version"] == 3


def test_bundles_are_only_served_to_enrolled_agents(live_server: LiveServer) -> None:
    import httpx

    answer = httpx.get(f"{live_server.url}/api/v1/agents/signatures")
    assert answer.status_code == 401
