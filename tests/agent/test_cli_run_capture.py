"""`shadowmap-agent run` captures DNS live while it runs and reports only the AI names."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.test_cli_enroll_and_run import REPO, create_enrollment_token
from tests.e2e.conftest import LiveServer
from tests.packets import dns_query

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0, reason="live capture needs CAP_NET_RAW"
    ),
]


def test_run_reports_ai_names_seen_on_the_wire(live_server: LiveServer, tmp_path: Path) -> None:
    _, token = create_enrollment_token(live_server)
    token_file = tmp_path / "enroll-token"
    token_file.write_text(token)
    config = tmp_path / "agent.toml"
    config.write_text(
        "[agent]\n"
        f'server_url = "{live_server.url}"\n'
        f'enrollment_token_file = "{token_file}"\n'
        'scanners = "processes"\n'
        "scan_interval_seconds = 2\n"
        'capture_interface = "lo"\n'
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent",
            "--config",
            str(config),
            "run",
            "--cycles",
            "3",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Queries go to the loopback resolver port only; nothing needs to answer them.
    deadline = time.monotonic() + 120
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        while process.poll() is None and time.monotonic() < deadline:
            sender.sendto(dns_query("chatgpt.com"), ("127.0.0.1", 53))
            sender.sendto(dns_query("www.wikipedia.org", ident=2), ("127.0.0.1", 53))
            time.sleep(0.3)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()

    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        dns = db.execute(
            "SELECT s.indicator, i.service_id FROM sightings s JOIN inventory_items i "
            "ON i.id = s.item_id WHERE s.kind = 'dns'"
        ).fetchall()
        health = db.execute("SELECT health FROM hosts").fetchone()[0]
    assert dns == [("chatgpt.com", "openai-chatgpt")]
    assert "wikipedia" not in str(dns)
    assert '"capture_status": "running"' in health
