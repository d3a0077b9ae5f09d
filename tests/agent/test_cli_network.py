"""`shadowmap-agent dns --pcap` and `shadowmap import-logs`, run as real commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from agent.network.pcapfile import write_pcap
from agent.network.synth import client_hello, dns_query, ethernet, tcp, tls_record, udp
from collector.db import make_engine, make_sessionmaker, transaction
from collector.store.hosts import Host
from collector.store.inventory import list_inventory

REPO = Path(__file__).resolve().parents[2]


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_dns_pcap_reports_only_the_ai_names(tmp_path: Path) -> None:
    frames = [
        ethernet(udp(dns_query("chatgpt.com"), 40000, 53)),
        ethernet(udp(dns_query("www.wikipedia.org", ident=2), 40001, 53)),
        ethernet(tcp(tls_record(client_hello("api.anthropic.com")), 40002, 443)),
    ]
    capture = tmp_path / "lookups.pcap"
    write_pcap(capture, [(1_700_000_000.0 + n, frame) for n, frame in enumerate(frames)])

    result = run("agent", "dns", "--pcap", str(capture), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    found = {(f["kind"], f["indicator"], f["service_id"]) for f in document["findings"]}
    assert found == {
        ("dns", "chatgpt.com", "openai-chatgpt"),
        ("sni", "api.anthropic.com", "anthropic-api"),
    }
    assert "wikipedia" not in result.stdout  # no browsing history

    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\x00" * 10)
    refused = run("agent", "dns", "--pcap", str(broken), "--json")
    assert refused.returncode == 2 and "error:" in refused.stderr


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
    assert run("server", "db", "upgrade", "--data-dir", str(data)).returncode == 0
    result = run("server", "import-logs", "--format", "dnsmasq", str(log), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    again = run("server", "import-logs", "--format", "dnsmasq", str(log), "--data-dir", str(data))
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

    unknown = run(
        "server", "import-logs", "--format", "syslog-ng", str(log), "--data-dir", str(data)
    )
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
