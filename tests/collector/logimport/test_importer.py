"""Server-side log import: every format, one report per client, AI lookups only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.errors import CollectorError
from collector.logimport import FORMATS, LogImportError, UnknownLogFormat, import_log, read_log
from signatures import FindingKind, Matcher, parse_report

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

SAMPLES: dict[str, str] = {
    "zeek-dns": (
        "#separator \\x09\n"
        "#set_separator\t,\n"
        "#path\tdns\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt"
        "\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA"
        "\tZ\tanswers\tTTLs\trejected\n"
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount"
        "\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]"
        "\tvector[interval]\tbool\n"
        "1795000000.100000\tC1\t192.168.1.10\t53211\t192.168.1.1\t53\tudp\t1\t0.01\tchatgpt.com"
        "\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t104.18.32.47\t60.0\tF\n"
        "1795000100.100000\tC2\t192.168.1.10\t53212\t192.168.1.1\t53\tudp\t2\t0.01"
        "\twww.example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF\n"
        "1795000200.100000\tC3\t192.168.1.11\t53213\t192.168.1.1\t53\tudp\t3\t0.01"
        "\tapi.openai.com\t1\tC_INTERNET\t28\tAAAA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF\n"
        "1795000300.100000\tC4\t192.168.1.10\t53214\t192.168.1.1\t53\tudp\t4\t0.01\tChatGPT.com"
        "\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF\n"
        '{"ts":1795000400.5,"uid":"C5","id.orig_h":"192.168.1.12","id.orig_p":1,'
        '"id.resp_h":"192.168.1.1","id.resp_p":53,"query":"claude.ai","qtype_name":"A"}\n'
    ),
    "zeek-ssl": (
        "#separator \\x09\n"
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tcipher\tcurve"
        "\tserver_name\tresumed\tlast_alert\tnext_protocol\testablished\n"
        "1795000000.0\tS1\t192.168.1.10\t50000\t104.18.32.47\t443\tTLSv13\tTLS_AES_128_GCM_SHA256"
        "\tx25519\tchatgpt.com\tF\t-\th2\tT\n"
        "1795000001.0\tS2\t192.168.1.11\t50001\t93.184.216.34\t443\tTLSv13\t-\t-\t-\tF\t-\t-\tT\n"
        "1795000002.0\tS3\t192.168.1.11\t50002\t160.79.104.10\t443\tTLSv13\t-\t-"
        "\tapi.anthropic.com\tF\t-\t-\tT\n"
    ),
    "bind": (
        "27-Nov-2026 03:35:00.123 queries: info: client @0x7f8b2c0a1b60 192.168.1.10#53211 "
        "(chatgpt.com): query: chatgpt.com IN A +E(0)K (192.168.1.1)\n"
        "27-Nov-2026 03:35:01.456 queries: info: client @0x7f8b2c0a1b60 192.168.1.10#53212 "
        "(www.example.org): query: www.example.org IN A +E(0)K (192.168.1.1)\n"
        "27-Nov-2026 03:36:00.000 client 2001:db8::11#40000: view internal: query: "
        "api.openai.com IN AAAA + (2001:db8::1)\n"
        "27-Nov-2026 03:37:00.000 general: info: zone example.com/IN: loaded serial 1\n"
    ),
    "dnsmasq": (
        "Nov 27 03:35:00 dnsmasq[1234]: query[A] chatgpt.com from 192.168.1.10\n"
        "Nov 27 03:35:00 dnsmasq[1234]: forwarded chatgpt.com to 1.1.1.1\n"
        "Nov 27 03:35:00 dnsmasq[1234]: reply chatgpt.com is 104.18.32.47\n"
        "Nov 27 03:35:02 dnsmasq[1234]: query[AAAA] www.example.org from 192.168.1.10\n"
        "Nov 27 03:36:00 dnsmasq[1234]: query[HTTPS] api.openai.com from 192.168.1.11\n"
    ),
    "pihole": (
        "Nov 27 03:35:00 dnsmasq[611]: query[A] gemini.google.com from 192.168.1.20\n"
        "Nov 27 03:35:00 dnsmasq[611]: gravity blocked ads.example.net is 0.0.0.0\n"
        "Nov 27 03:35:09 dnsmasq[611]: query[A] chatgpt.com from 192.168.1.20\n"
        "Dec 31 23:59:59 dnsmasq[611]: query[A] claude.ai from 192.168.1.21\n"
    ),
    "windows-dns": (
        "DNS Server log file creation at 11/27/2026 3:00:00 AM\n"
        "11/27/2026 3:35:00 AM 0E60 PACKET  000000D1C8C5F8A0 UDP Rcv 192.168.1.10    c5b4   Q "
        "[0001   D   NOERROR] A      (7)chatgpt(3)com(0)\n"
        "11/27/2026 3:35:00 AM 0E60 PACKET  000000D1C8C5F8A0 UDP Snd 192.168.1.10    c5b4 R Q "
        "[8081   DR  NOERROR] A      (7)chatgpt(3)com(0)\n"
        "11/27/2026 3:35:05 AM 0E60 PACKET  000000D1C8C5F8A0 UDP Rcv 192.168.1.10    c5b5   Q "
        "[0001   D   NOERROR] A      (3)www(7)example(3)org(0)\n"
        "11/27/2026 3:36:00 PM 0E60 PACKET  000000D1C8C5F8A0 UDP Rcv 192.168.1.11    c5b6   Q "
        "[0001   D   NOERROR] AAAA   (3)api(6)openai(3)com(0)\n"
    ),
    "squid": (
        "1795000000.123     45 192.168.1.10 TCP_TUNNEL/200 6543 CONNECT chatgpt.com:443 alice "
        "HIER_DIRECT/104.18.32.47 -\n"
        "1795000001.000     12 192.168.1.10 TCP_MISS/200 1234 GET http://www.example.org/ - "
        "HIER_DIRECT/93.184.216.34 text/html\n"
        "1795000002.000     80 192.168.1.11 TCP_MISS/200 999 POST "
        "http://api.openai.com/v1/chat/completions bob HIER_DIRECT/162.159.140.245 "
        "application/json\n"
        "1795000003.000     10 192.168.1.10 TCP_TUNNEL/200 100 CONNECT chatgpt.com:443 alice "
        "HIER_DIRECT/104.18.32.47 -\n"
        "garbage line\n"
    ),
}

EXPECTED: dict[str, dict[str, set[str]]] = {
    "zeek-dns": {
        "192.168.1.10": {"chatgpt.com"},
        "192.168.1.11": {"api.openai.com"},
        "192.168.1.12": {"claude.ai"},
    },
    "zeek-ssl": {"192.168.1.10": {"chatgpt.com"}, "192.168.1.11": {"api.anthropic.com"}},
    "bind": {"192.168.1.10": {"chatgpt.com"}, "2001:db8::11": {"api.openai.com"}},
    "dnsmasq": {"192.168.1.10": {"chatgpt.com"}, "192.168.1.11": {"api.openai.com"}},
    "pihole": {"192.168.1.20": {"gemini.google.com", "chatgpt.com"}, "192.168.1.21": {"claude.ai"}},
    "windows-dns": {"192.168.1.10": {"chatgpt.com"}, "192.168.1.11": {"api.openai.com"}},
    "squid": {"192.168.1.10": {"chatgpt.com"}, "192.168.1.11": {"api.openai.com"}},
}


def _write(tmp_path: Path, format_name: str) -> Path:
    path = tmp_path / f"{format_name}.log"
    path.write_text(SAMPLES[format_name])
    return path


def test_every_format_has_a_sample() -> None:
    assert set(SAMPLES) == set(FORMATS) == set(EXPECTED)


@pytest.mark.parametrize("format_name", FORMATS)
def test_one_report_per_client_with_ai_lookups_only(
    tmp_path: Path, matcher: Matcher, format_name: str
) -> None:
    reports = import_log(_write(tmp_path, format_name), format_name, matcher, now=NOW)
    seen = {
        report.host.hostname: {finding.indicator for finding in report.findings}
        for report in reports
    }
    assert seen == EXPECTED[format_name]
    for report in reports:
        parse_report(report.to_json())  # valid on the wire, as the collector will ingest it
        assert report.agent.id == f"shadowmap-logimport:{format_name}"
        for finding in report.findings:
            assert finding.kind is FindingKind.LOG and finding.service_id
            assert finding.evidence["format"] == format_name
            assert finding.evidence["client"] == report.host.hostname
            assert finding.evidence["domain"] == finding.indicator
            assert "example" not in report.to_json().decode()


def test_counts_times_and_users(tmp_path: Path, matcher: Matcher) -> None:
    reports = import_log(_write(tmp_path, "squid"), "squid", matcher, now=NOW)
    alice = next(report for report in reports if report.host.hostname == "192.168.1.10")
    (finding,) = alice.findings
    assert finding.evidence["count"] == 2
    assert finding.user == "alice"
    assert finding.first_seen == dt.datetime.fromtimestamp(1795000000, dt.UTC)
    assert finding.last_seen == dt.datetime.fromtimestamp(1795000003, dt.UTC)
    zeek = import_log(_write(tmp_path, "zeek-dns"), "zeek-dns", matcher, now=NOW)
    first = next(report for report in zeek if report.host.hostname == "192.168.1.10")
    assert first.findings[0].evidence["count"] == 2  # ChatGPT.com folds into chatgpt.com


def test_syslog_dates_without_a_year(tmp_path: Path, matcher: Matcher) -> None:
    reports = import_log(_write(tmp_path, "pihole"), "pihole", matcher, now=NOW)
    last_year = next(report for report in reports if report.host.hostname == "192.168.1.21")
    assert last_year.findings[0].first_seen.year == 2025
    windows = import_log(_write(tmp_path, "windows-dns"), "windows-dns", matcher, now=NOW)
    api = next(report for report in windows if report.host.hostname == "192.168.1.11")
    assert api.findings[0].first_seen == dt.datetime(2026, 11, 27, 15, 36, tzinfo=dt.UTC)


def test_progress_and_counters(tmp_path: Path, matcher: Matcher) -> None:
    path = tmp_path / "big.log"
    line = "Nov 27 03:35:00 dnsmasq[1]: query[A] www{}.example.org from 10.0.0.{}\n"
    with path.open("w") as out:
        for index in range(40000):
            out.write(line.format(index, index % 250))
        out.write("Nov 27 03:35:00 dnsmasq[1]: query[A] chatgpt.com from 10.0.0.1\n")
    calls: list[tuple[int, int]] = []
    result = read_log(
        path, "dnsmasq", matcher, progress=lambda done, total: calls.append((done, total)), now=NOW
    )
    size = path.stat().st_size
    assert calls[-1] == (size, size) and len(calls) >= 2
    assert all(done <= total for done, total in calls)
    assert result.stats.lookups == 40001 and result.stats.matched == 1
    assert [report.host.hostname for report in result.reports] == ["10.0.0.1"]


def test_errors(tmp_path: Path, matcher: Matcher) -> None:
    with pytest.raises(UnknownLogFormat, match="known: zeek-dns"):
        import_log(tmp_path / "x.log", "apache", matcher)
    with pytest.raises(LogImportError) as caught:
        import_log(tmp_path / "missing.log", "bind", matcher)
    assert isinstance(caught.value, CollectorError)
    assert caught.value.path.endswith("missing.log")
