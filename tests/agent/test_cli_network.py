"""`shadowmap-agent dns --pcap`, run as a real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.packets import client_hello, dns_query, ethernet, tcp, tls_record, udp, write_pcap

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
