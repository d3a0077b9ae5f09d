"""Names that are not valid UTF-8 (files, folders, users) never silence the agent.

Any local user can create ``l\\xff.gguf``; Python keeps the bad byte as a lone surrogate, which
no UTF-8 encoder accepts. Every finding shows it escaped (``l\\\\xff.gguf``) instead, from every
scanner, in `scan --once --json` and in the reports `run` sends to a real collector.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import build_report, scan_once
from tests.agent.helpers import (
    NEEDS_MOUNT_NAMESPACE,
    can_use_mount_namespace,
    home_with_undecodable_names,
    settings,
    with_users,
)
from tests.e2e.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]

# What each scanner reports of home_with_undecodable_names, as the collector stores it.
ESCAPED = {
    ("model_file", "lm-studio"): ".lmstudio/models/acme/l\\xff.gguf",
    ("browser_extension", "anthropic-claude"): "/1.0\\xff_0",
    ("package", "openai-api"): "/proj\\xff/.venv/",
    ("package", "openai-codex-cli"): "/src\\xff/node_modules/@openai/codex",
}


def _image(tmp_path: Path) -> Path:
    """A mounted Linux image whose user alice has AI software under undecodable names."""
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("alice:x:1000:1000::/home/alice:/bin/sh\n")
    home_with_undecodable_names(os.fsencode(root / "home" / "alice"))
    return root


def _escaped_paths(findings: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    return {
        (str(f["kind"]), str(f["service_id"])): str(f["evidence"]["path"])  # type: ignore[index]
        for f in findings
        if isinstance(f["evidence"], dict) and "\\xff" in str(f["evidence"].get("path"))
    }


def test_a_scan_of_undecodable_names_makes_a_valid_report(tmp_path: Path) -> None:
    result, version = scan_once(_image(tmp_path), None, settings(tmp_path / "state"))
    body = build_report(result, version, "agent-1").to_json()
    doc = json.loads(body.decode("utf-8"))
    paths = _escaped_paths(doc["findings"])
    for key, fragment in ESCAPED.items():
        assert fragment in paths.get(key, ""), (key, sorted(paths))
    model = next(f for f in doc["findings"] if f["kind"] == "model_file")
    assert model["evidence"]["file_name"] == "l\\xff.gguf"
    assert model["indicator"].endswith("/l\\xff.gguf")


@pytest.mark.slow
def test_scan_once_json_prints_undecodable_names_escaped(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "scan",
            "--once",
            "--json",
            "--root",
            str(_image(tmp_path)),
        ],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        # A UTF-8 desktop locale: stdout refuses what is not valid UTF-8.
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    doc = json.loads(result.stdout.decode("utf-8"))
    paths = _escaped_paths(doc["findings"])
    for key, fragment in ESCAPED.items():
        assert fragment in paths.get(key, ""), (key, sorted(paths))


@pytest.mark.slow
@pytest.mark.skipif(not can_use_mount_namespace(), reason=NEEDS_MOUNT_NAMESPACE)
def test_run_reports_a_user_and_home_whose_names_are_not_utf8(
    live_server: LiveServer, tmp_path: Path
) -> None:
    """The user b\\xffob, whose home is /.../b\\xffob: every path of every finding is affected."""
    home = os.fsencode(tmp_path / "home") + b"/b\xffob"
    home_with_undecodable_names(home)
    passwd = tmp_path / "passwd"
    passwd.write_bytes(b"b\xffob:x:1000:1000::" + home + b":/bin/sh\n")
    token_file = tmp_path / "enroll-token"
    token_file.write_text(live_server.enrollment_token())
    config = tmp_path / "agent.toml"
    config.write_text(
        "[agent]\n"
        f'server_url = "{live_server.url}"\n'
        f'enrollment_token_file = "{token_file}"\n'
        'scanners = "apps,browser_extensions,ide_extensions,packages,model_files,'
        'mcp_servers,environment,ai_tool_footprints"\n'
        "scan_interval_seconds = 1\n"
        "scan_jitter_fraction = 0\n"
        "network_capture = false\n"
    )
    argv = [sys.executable, "-m", "agent", "--config", str(config), "run", "--cycles", "2"]
    result = subprocess.run(
        with_users(passwd, [*argv, "--state-dir", str(tmp_path / "state")]),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "surrogates not allowed" not in result.stderr, result.stderr
    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        sightings = db.execute("SELECT kind, user_name, evidence FROM sightings").fetchall()
        health = json.loads(db.execute("SELECT health FROM hosts").fetchone()[0])
    assert health["spool_reports"] == 0, health  # everything queued was delivered
    assert {user for _kind, user, _evidence in sightings} == {"b\\xffob"}
    paths = {kind: json.loads(evidence).get("path", "") for kind, _user, evidence in sightings}
    for kind in ("model_file", "browser_extension", "package", "app"):
        assert "/b\\xffob/" in paths[kind], (kind, paths)
    assert paths["model_file"].endswith("/b\\xffob/.lmstudio/models/acme/l\\xff.gguf")
