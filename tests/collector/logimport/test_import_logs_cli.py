"""`shadowmap import-logs`, run as a real command against a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from collector.db import make_engine, make_sessionmaker, transaction
from collector.store.hosts import Host
from collector.store.inventory import list_inventory

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.slow
def test_import_logs_attributes_lookups_to_clients(tmp_path: Path) -> None:
    log = tmp_path / "dnsmasq.log"
    log.write_text(
        "Nov 27 03:35:00 dnsmasq[1234]: query[A] chatgpt.com from 192.168.1.10\n"
        "Nov 27 03:35:01 dnsmasq[1234]: query[A] claude.ai from 192.168.1.11\n"
        "Nov 27 03:35:02 dnsmasq[1234]: query[A] www.wikipedia.org from 192.168.1.10\n"
        "Nov 27 03:35:03 dnsmasq[1234]: query[AAAA] chatgpt.com from 192.168.1.11\n"
        "this line is not dnsmasq at all\n"
    )
    data = tmp_path / "server"
    assert run("db", "upgrade", "--data-dir", str(data)).returncode == 0
    result = run("import-logs", "--format", "dnsmasq", str(log), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    again = run("import-logs", "--format", "dnsmasq", str(log), "--data-dir", str(data))
    assert again.returncode == 0, again.stderr

    engine = make_engine(f"sqlite:///{data / 'shadowmap.db'}")
    with transaction(make_sessionmaker(engine)) as session:
        hosts = sorted(session.scalars(select(Host.hostname)).all())
        items = {row.item.service_id: row for row in list_inventory(session)}
    engine.dispose()
    assert hosts == ["192.168.1.10", "192.168.1.11"]  # re-importing added no host
    assert set(items) == {"openai-chatgpt", "anthropic-claude"}
    assert items["openai-chatgpt"].host_count == 2
    assert items["anthropic-claude"].host_count == 1
    assert "log" in items["openai-chatgpt"].evidence_kinds

    unknown = run("import-logs", "--format", "syslog-ng", str(log), "--data-dir", str(data))
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
