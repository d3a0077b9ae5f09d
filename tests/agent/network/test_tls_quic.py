"""Server names from TLS ClientHellos and QUIC Initials; QUIC checked against tshark."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.network.quic import QUIC_V1, QUIC_V2, InitialAssembler, client_initial_keys
from agent.network.tls import is_client_hello_record, sni_from_handshake, sni_from_record
from tests.packets import client_hello, ethernet, quic_initials, tls_record, udp, write_pcap


def test_sni_from_a_record_and_from_a_truncated_one() -> None:
    record = tls_record(client_hello("api.openai.com"))
    assert is_client_hello_record(record)
    assert sni_from_record(record) == "api.openai.com"
    assert sni_from_record(record[:70]) is None
    padded = tls_record(client_hello("claude.ai", pad=1500))
    assert sni_from_record(padded[:200]) is None  # the name lies beyond the captured bytes
    assert sni_from_record(padded) == "claude.ai"


def test_no_sni_without_a_client_hello() -> None:
    assert sni_from_record(b"\x17\x03\x03\x00\x10" + bytes(16)) is None
    assert sni_from_handshake(b"\x02\x00\x00\x04abcd") is None


def test_rfc9001_initial_keys() -> None:
    key, iv, hp = client_initial_keys(bytes.fromhex("8394c8f03e515708"), QUIC_V1)
    assert key.hex() == "1f369613dd76d5467730efcbe3b1a22d"
    assert iv.hex() == "fa044b2f42a3fd3b46fb255c"
    assert hp.hex() == "9f50449e04a0e810283a1e9933adedd2"


def test_quic_hello_split_over_reordered_initials() -> None:
    hello = client_hello("gemini.google.com", pad=1800)
    for version in (QUIC_V1, QUIC_V2):
        packets = quic_initials(
            hello, dcid=bytes.fromhex("0011223344556677"), version=version, pieces=3
        )
        assembler = InitialAssembler()
        results = [assembler.add(packet) for packet in packets]
        assert results[:-1] == [None, None]
        assert results[-1] == "gemini.google.com"


def test_tshark_reads_the_same_sni_from_our_quic_initials(tmp_path: Path, tshark: str) -> None:
    packets = quic_initials(client_hello("chatgpt.com"), dcid=bytes.fromhex("8394c8f03e515708"))
    path = tmp_path / "quic.pcap"
    write_pcap(path, [(0.0, ethernet(udp(packet, 50000, 443))) for packet in packets])
    output = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "tls.handshake.extensions_server_name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert output == ["chatgpt.com"]
    assert InitialAssembler().add(packets[0]) == "chatgpt.com"
