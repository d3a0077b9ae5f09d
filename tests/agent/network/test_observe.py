"""From packets to findings: what is kept, what is dropped, and the pcap import function."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from agent.addressbook import AddressBook
from agent.network import CaptureFileError, findings_from_pcap, scan_capture
from agent.network.observe import NetworkObserver
from signatures import Confidence, FindingKind, Matcher
from tests.packets import (
    client_hello,
    dns_query,
    dns_response,
    ethernet,
    quic_initials,
    tcp,
    tls_record,
    udp,
    write_pcap,
)

CLIENT, RESOLVER, SERVER = "10.200.9.10", "10.200.9.53", "10.200.9.80"


def _capture(tmp_path: Path) -> Path:
    frames = [
        udp(dns_query("chatgpt.com", ident=1), 40001, 53, src=CLIENT, dst=RESOLVER),
        udp(
            dns_response("chatgpt.com", ["104.18.32.47"], ident=1, ttl=300),
            53,
            40001,
            src=RESOLVER,
            dst=CLIENT,
        ),
        udp(dns_query("www.example.org", ident=2), 40002, 53, src=CLIENT, dst=RESOLVER),
        udp(
            dns_response("www.example.org", ["93.184.216.34"], ident=2),
            53,
            40002,
            src=RESOLVER,
            dst=CLIENT,
        ),
        udp(dns_query("chatgpt.com", ident=3, qtype=28), 40003, 53, src=CLIENT, dst=RESOLVER),
        udp(dns_query("gpt-gateway.corp.example", ident=4), 40004, 53, src=CLIENT, dst=RESOLVER),
        tcp(tls_record(client_hello("api.anthropic.com")), 50000, 443, src=CLIENT, dst=SERVER),
        tcp(tls_record(client_hello("news.example.net")), 50001, 443, src=CLIENT, dst=SERVER),
        *(
            udp(packet, 50002, 443, src=CLIENT, dst=SERVER)
            for packet in quic_initials(client_hello("gemini.google.com"), dcid=b"\x01" * 8)
        ),
    ]
    path = tmp_path / "mixed.pcap"
    write_pcap(
        path, [(1_790_000_000.0 + index, ethernet(frame)) for index, frame in enumerate(frames)]
    )
    return path


def test_pcap_findings_keep_ai_names_only(tmp_path: Path, matcher: Matcher) -> None:
    findings = {
        (finding.kind, finding.indicator): finding
        for finding in findings_from_pcap(_capture(tmp_path), matcher)
    }
    assert set(findings) == {
        (FindingKind.DNS, "chatgpt.com"),
        (FindingKind.DNS, "gpt-gateway.corp.example"),
        (FindingKind.SNI, "api.anthropic.com"),
        (FindingKind.SNI, "gemini.google.com"),
    }
    chatgpt = findings[(FindingKind.DNS, "chatgpt.com")]
    assert chatgpt.service_id == "openai-chatgpt"
    assert chatgpt.evidence["count"] == 2
    assert chatgpt.evidence["qtypes"] == ["A", "AAAA"]
    assert chatgpt.evidence["addresses"] == ["104.18.32.47"]
    assert chatgpt.evidence["clients"] == [CLIENT]
    assert chatgpt.first_seen < chatgpt.last_seen
    guess = findings[(FindingKind.DNS, "gpt-gateway.corp.example")]
    assert guess.service_id is None and guess.confidence is Confidence.LOW
    assert guess.heuristic and "gpt" in guess.heuristic
    quic = findings[(FindingKind.SNI, "gemini.google.com")]
    assert quic.evidence["transports"] == ["quic"] and quic.evidence["servers"] == [SERVER]
    as_text = repr([finding.to_dict() for finding in findings.values()])
    assert "example.org" not in as_text and "news.example.net" not in as_text


def test_scan_reports_counters_and_a_json_document(tmp_path: Path, matcher: Matcher) -> None:
    scan = scan_capture(_capture(tmp_path), matcher)
    document = json.loads(json.dumps(scan.to_dict()))
    assert len(document["findings"]) == 4
    assert document["stats"]["names_dropped"] == 3  # example.org twice, news.example.net


def test_unreadable_capture_raises_a_named_error(tmp_path: Path, matcher: Matcher) -> None:
    with pytest.raises(CaptureFileError, match=r"(?i)no such file"):
        findings_from_pcap(tmp_path / "missing.pcap", matcher)
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file")
    with pytest.raises(CaptureFileError, match="not a pcap"):
        findings_from_pcap(junk, matcher)


def test_answer_addresses_attribute_connections_until_ttl(matcher: Matcher) -> None:
    observer = NetworkObserver(matcher, address_book=AddressBook(max_entries=2, min_ttl=1))
    response = dns_response("api.openai.com", ["162.159.140.245", "2606:4700::1"], ttl=30)
    observer.dns_message(response, b"\x0a\x00\x00\x35", b"\x0a\x00\x00\x01", 1000.0)
    assert observer.addresses.lookup("162.159.140.245", now=1010.0) == (
        "openai-api",
        "api.openai.com",
    )
    assert observer.addresses.lookup("162.159.140.245", now=1031.0) is None  # expired
    for index in range(3):
        observer.addresses.add(f"192.0.2.{index}", "x", "x.example", 60, 1000.0)
    assert len(observer.addresses) == 2  # bounded: the oldest went first
    assert observer.addresses.lookup("192.0.2.0", now=1001.0) is None


def test_drain_hands_out_each_sighting_once(matcher: Matcher) -> None:
    observer = NetworkObserver(matcher)
    observer.dns_message(dns_query("claude.ai"), b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x35", 5.0)
    assert [finding.indicator for finding in observer.drain()] == ["claude.ai"]
    assert observer.drain() == []


def test_tcp_dns_reassembly_and_retransmissions(matcher: Matcher) -> None:
    observer = NetworkObserver(matcher)
    message = dns_query("perplexity.ai")
    stream = struct.pack("!H", len(message)) + message
    src, dst = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x35"
    for seq, chunk in ((1, stream[:5]), (1, stream[:5]), (6, stream[5:])):
        observer.feed((6, src, dst, 40000, 53, chunk, seq, 0x18), 1.0)
    findings = observer.drain()
    assert [finding.indicator for finding in findings] == ["perplexity.ai"]
    assert findings[0].evidence["count"] == 1
