"""Hostile logs: a broken line costs that line only, and every imported report fits the schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from collector.logimport import read_log
from collector.logimport.importer import MAX_LINE_BYTES
from signatures import MAX_EVIDENCE_ITEM, Matcher, validate_report

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

ZEEK_FIELDS = (
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tcurve"
    "\tserver_name\tresumed\tlast_alert\tnext_protocol\testablished\n"
)


def _ssl_line(client: str, name: str, version: str = "TLSv13") -> str:
    fields = ["1795000000.0", "S1", client, "50000", "104.18.32.47", "443", version, "-", "-"]
    return "\t".join([*fields, name, "F", "-", "-", "T"]) + "\n"


def test_a_bad_zeek_separator_is_one_malformed_line(tmp_path: Path, matcher: Matcher) -> None:
    log = tmp_path / "ssl.log"
    log.write_text(
        "#separator \\x\n"  # truncated escape: the whole import used to abort here
        + ZEEK_FIELDS
        + _ssl_line("192.168.1.10", "chatgpt.com")
        + "#separator \\q09\n"
        + _ssl_line("192.168.1.11", "api.anthropic.com")
    )
    result = read_log(log, "zeek-ssl", matcher, now=NOW)
    assert result.stats.malformed == 2
    assert result.stats.lookups == 2 and result.stats.matched == 2
    assert sorted(r.host.hostname for r in result.reports) == ["192.168.1.10", "192.168.1.11"]


def test_imported_reports_fit_the_servers_schema(tmp_path: Path, matcher: Matcher) -> None:
    long_version = "TLSv13-" + "x" * 5000
    long_client = "10.0.0." + "9" * 5000
    log = tmp_path / "ssl.log"
    log.write_text(
        "#separator \\x09\n"
        + ZEEK_FIELDS
        + _ssl_line("192.168.1.10", "chatgpt.com", long_version)
        + _ssl_line("192.168.1.10", "chatgpt.com", long_version + "y")  # the same, once cut
        + _ssl_line(long_client, "chatgpt.com")
    )
    squid = tmp_path / "access.log"
    squid.write_text(
        f"1795000000.000 10 10.0.0.5 TCP_TUNNEL/200 500 CONNECT chatgpt.com:443 {'u' * 3000} "
        "HIER_DIRECT/1.2.3.4 -\n"
    )
    reports = read_log(log, "zeek-ssl", matcher, now=NOW).reports
    reports += read_log(squid, "squid", matcher, now=NOW).reports
    assert len(reports) == 3
    for report in reports:
        validate_report(json.loads(report.to_json()))  # the schema ingest checks agents against
    details = [
        f.evidence["details"] for r in reports for f in r.findings if "details" in f.evidence
    ]
    assert details[0] == [long_version[:MAX_EVIDENCE_ITEM]]
    assert sorted(len(r.host.hostname) for r in reports) == [8, 12, 255]


def test_undecodable_and_overlong_lines_are_skipped_and_counted(
    tmp_path: Path, matcher: Matcher
) -> None:
    log = tmp_path / "dnsmasq.log"
    log.write_bytes(
        b"Nov 27 03:35:00 dnsmasq[1]: query[A] chatgpt.com from 10.0.0.1\n"
        b"Nov 27 03:35:01 dnsmasq[1]: query[A] \xff\xfe\xc3( from 10.0.0.2\n"
        + b"Nov 27 03:35:02 dnsmasq[1]: query[A] "
        + b"a" * (3 * MAX_LINE_BYTES)
        + b"\n"
        + b"Nov 27 03:35:03 dnsmasq[1]: query[A] claude.ai from 10.0.0.3"  # no final newline
    )
    result = read_log(log, "dnsmasq", matcher, now=NOW)
    assert result.stats.lines == 4 and result.stats.malformed == 1
    assert sorted(r.host.hostname for r in result.reports) == ["10.0.0.1", "10.0.0.3"]
