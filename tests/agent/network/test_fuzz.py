"""Truncated, malformed and hostile input never crashes the parsers, and costs bounded time.

Part of the fuzz suite (tests/fuzzing.py): packets, real handshakes and answers damaged at
random, and pcap/pcapng files that give records or a CaptureFileError, nothing else.
"""

from __future__ import annotations

import contextlib
import json
import struct
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.network import CaptureFileError
from agent.network.dns import (
    POINTER_LOOP,
    looks_like_dns_query,
    parse_answers,
    parse_message,
    question_name,
)
from agent.network.observe import NetworkObserver
from agent.network.offline import scan_capture
from agent.network.packet import Defragmenter, decode_frame
from agent.network.pcapfile import read_capture
from agent.network.quic import InitialAssembler, crypto_frames, decrypt_initial
from agent.network.tls import sni_from_handshake, sni_from_record
from signatures import Catalogue, Matcher, validate_report
from tests.factories import report
from tests.fuzzing import count_example, fuzzed, mutated
from tests.packets import (
    client_hello,
    dns_query,
    dns_response,
    ethernet,
    quic_initials,
    tls_record,
    udp,
    write_pcap,
)

HEADER = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)

labels = st.binary(min_size=1, max_size=63).map(lambda label: bytes([len(label)]) + label)
pointers = st.integers(0, 0x3FFF).map(lambda target: struct.pack("!H", 0xC000 | target))
odd = st.sampled_from([b"\x00", b"\x40", b"\x41\x08\xff", b"\x80", b"\xc0", b""])
names = st.lists(st.one_of(labels, pointers, odd), max_size=12).map(b"".join)


@st.composite
def dns_messages(draw: st.DrawFn) -> bytes:
    counts = draw(st.tuples(*(st.integers(0, 70000 // 7) for _ in range(4))))
    header = struct.pack(
        "!HHHHHH",
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFF)),
        *(min(count, 0xFFFF) for count in counts),
    )
    body = b"".join(
        draw(st.lists(st.tuples(names, st.binary(max_size=14)).map(b"".join), max_size=8))
    )
    return header + body


@pytest.mark.slow
@fuzzed(max_examples=400)
@given(dns_messages())
def test_dns_parsing_never_raises(message: bytes) -> None:
    count_example()
    parsed = parse_message(message)
    assert parsed is not None
    for name, _qtype in parsed.questions:
        assert isinstance(name, str) and name
    parse_answers(message)
    looks_like_dns_query(message)
    for cut in (0, 5, 12, len(message) // 2):
        parse_message(message[:cut])
        parse_answers(message[:cut])


@fuzzed(max_examples=200)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    count_example()
    parse_message(data)
    parse_answers(data)
    sni_from_record(data)
    sni_from_record(b"\x16\x03\x01" + data)
    sni_from_handshake(b"\x01" + data)
    decrypt_initial(data)
    decrypt_initial(b"\xc0\x00\x00\x00\x01" + data)
    crypto_frames(data)
    InitialAssembler().add(b"\xc3\x00\x00\x00\x01\x08" + data)
    for linktype in (0, 1, 9, 101, 108, 113, 228, 229, 276):
        decode_frame(linktype, data, Defragmenter())


@fuzzed(max_examples=200)
@given(st.binary(max_size=400), st.sampled_from([17, 6]), st.integers(0, 0xFFFF))
def test_observer_survives_any_segment(payload: bytes, protocol: int, port: int) -> None:
    count_example()

    observer = NetworkObserver(Matcher(Catalogue(version="t", services=())))
    for sport, dport in ((port, 53), (53, port), (port, 443), (port, 5353)):
        observer.feed(
            (protocol, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", sport, dport, payload, 0, 0x18),
            0.0,
        )
    assert observer.findings() == []


def test_compression_pointer_cycles_are_reported_not_followed() -> None:
    two_cycle = HEADER + b"\x01a\xc0\x10\x01b\xc0\x0c\x00\x01\x00\x01"
    assert question_name(two_cycle, 12)[0] == POINTER_LOOP
    self_loop = HEADER + b"\xc0\x0c\x00\x01\x00\x01"
    assert parse_message(self_loop).questions == [(POINTER_LOOP, 1)]  # type: ignore[union-attr]


def test_a_message_of_pointer_chains_costs_bounded_time() -> None:
    # 60 KB of one-byte labels with pointers into the middle of the chain, asked 9000 times.
    chain = b"\x01x" * 15000 + b"\xc0\x0c"
    questions = b"".join(
        struct.pack("!H", 0xC000 | (12 + 2 * index)) + b"\x00\x01\x00\x01" for index in range(9000)
    )
    message = struct.pack("!HHHHHH", 1, 0x0100, 9001, 0, 0, 0) + chain + questions
    started = time.perf_counter()
    parse_message(message[:65535])
    assert time.perf_counter() - started < 5


def test_truncated_capture_files_end_quietly(tmp_path: Path) -> None:
    from tests.packets import write_pcap

    path = tmp_path / "cut.pcap"
    write_pcap(path, [(0.0, b"\x00" * 60)] * 3 + [(1.0, dns_query("a.example"))])
    whole = path.read_bytes()
    for cut in range(24, len(whole), 7):
        path.write_bytes(whole[:cut])
        assert len(list(read_capture(path))) <= 4


HELLO = client_hello("chatgpt.com")
ANSWER = dns_response("api.openai.com", ["104.18.32.47", "2606:4700::1"], cname="openai.map")


@fuzzed(max_examples=100)
@given(mutated(HELLO), mutated(tls_record(HELLO)), mutated(ANSWER))
def test_damaged_real_handshakes_and_answers_never_raise(
    hello: bytes, record: bytes, answer: bytes
) -> None:
    """A real ClientHello (in TLS and, protected, in QUIC) and a real answer, damaged."""
    count_example()
    for name in (
        sni_from_handshake(hello),
        sni_from_record(record),
        sni_from_record(tls_record(hello)),
    ):
        assert name is None or isinstance(name, str)
    assembler = InitialAssembler()
    for datagram in (
        []
        if not hello
        else quic_initials(hello, dcid=b"\x83\x94\xc8\xf0\x3e\x51\x57\x08", pieces=2)
    ):
        assembler.add(datagram)
    parse_message(answer)
    parse_answers(answer)


def _pcapng_block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _frames() -> list[bytes]:
    client, resolver = "10.0.0.2", "10.0.0.1"
    initial = quic_initials(HELLO, dcid=bytes(8))[0]
    return [
        ethernet(udp(dns_query("chatgpt.com"), 5353, 53, src=client, dst=resolver)),
        ethernet(udp(ANSWER, 53, 5353, src=resolver, dst=client)),
        ethernet(udp(initial, 50000, 443, src=client, dst="1.2.3.4")),
    ]


def _capture_files() -> tuple[bytes, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.pcap"
        write_pcap(path, [(1.0 + index, frame) for index, frame in enumerate(_frames())])
        pcap = path.read_bytes()
    section = _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    interface = _pcapng_block(1, struct.pack("<HHI", 1, 0, 65535))
    packets = b"".join(
        _pcapng_block(6, struct.pack("<IIIII", 0, 0, index, len(frame), len(frame)) + frame)
        for index, frame in enumerate(_frames())
    )
    return pcap, section + interface + packets


PCAP, PCAPNG = _capture_files()


@pytest.mark.slow
@fuzzed(max_examples=100)
@given(st.one_of(mutated(PCAP), mutated(PCAPNG), st.binary(max_size=200)))
def test_any_capture_file_reads_or_is_a_capture_file_error(
    catalogue: Catalogue, data: bytes
) -> None:
    count_example()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.pcap"
        path.write_bytes(data)
        with contextlib.suppress(CaptureFileError):
            for _linktype, _timestamp, _frame in read_capture(path):
                pass
        with contextlib.suppress(CaptureFileError):
            scan = scan_capture(path, Matcher(catalogue))
            validate_report(json.loads(report(scan.findings).to_json()))
