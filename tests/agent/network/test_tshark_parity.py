"""Query names extracted by our parser equal tshark's, on real and constructed captures."""

from __future__ import annotations

import collections
import random
import struct
import subprocess
from pathlib import Path

import pytest

from agent.network.offline import query_names
from tests.agent.network.conftest import PCAP_DIR, shared_pcaps, tshark_query_names
from tests.packets import dns_query, dns_response, ethernet, ip, tcp, udp, write_pcap


def _raw(packet: bytes) -> tuple[float, bytes]:
    return 0.0, packet


def test_the_shared_captures_are_present() -> None:
    if not PCAP_DIR.is_dir():
        pytest.skip(f"no shared captures at {PCAP_DIR}")
    assert len(shared_pcaps()) >= 80


@pytest.mark.slow  # tshark reads every shared capture first (about 20 s)
@pytest.mark.parametrize("path", shared_pcaps(), ids=lambda path: path.name)
def test_shared_capture_names_equal_tsharks(
    path: Path, shared_tshark_names: dict[str, collections.Counter[str]]
) -> None:
    assert collections.Counter(query_names(path)) == shared_tshark_names[path.name]


def test_shared_captures_with_dns_are_not_trivially_equal(tshark: str) -> None:
    with_dns = [path for path in shared_pcaps() if query_names(path)]
    if not shared_pcaps():
        pytest.skip("no shared captures")
    # TCP DNS, IPv6, EDNS, DNSSEC and a non-standard port are among them.
    assert len(with_dns) >= 20
    assert "www.tcpdump.org" in query_names(PCAP_DIR / "tcpdump_dns_udp_8053.pcap")


def _check(tshark: str, path: Path, expected: list[str] | None = None) -> None:
    ours = collections.Counter(query_names(path))
    assert ours == tshark_query_names(tshark, path)
    if expected is not None:
        assert ours == collections.Counter(expected)


def test_odd_label_bytes_are_escaped_like_tshark(tmp_path: Path, tshark: str) -> None:
    labels = [
        b"a b",
        b"a.b",
        b"\x00x",
        b"\xff\xfe",
        b"A\\B",
        b"\x7f\x01\t",
        b"caf\xc3\xa9",
        b"\xed\xa0\x80",
        b"\xc0\x80",
        b"\xef\xbf\xbf",
        b"\xe2\x80\x8b",
        b"\xf0\x9f\x98\x80",
        b"\xe2\x82",
        b"\xf8\x88\x80\x80\x80",
        b"a,b",
        b"UPPER",
    ]
    packets = []
    for label in labels:
        message = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
        message += bytes([len(label)]) + label + b"\x03com\x00\x00\x01\x00\x01"
        packets.append(_raw(udp(message, 4000, 53)))
    path = tmp_path / "odd.pcap"
    write_pcap(path, packets, linktype=101)
    _check(tshark, path)
    names = query_names(path)
    assert names[0] == "a b.com" and names[2] == "\\000x.com" and names[5] == "\\177\\001\\t.com"
    assert names[6] == "café.com" and names[10] == "\\u200B.com"


def test_compression_loops_long_names_and_root(tmp_path: Path, tshark: str) -> None:
    header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    messages = [
        header + b"\xc0\x0c\x00\x01\x00\x01",  # points at itself
        header + b"\x01a\xc0\x0e\x00\x01\x00\x01",  # points at its own pointer
        header + b"\x00\x00\x01\x00\x01",  # the root
        header + (b"\x3f" + b"x" * 63) * 4 + b"\x00\x00\x01\x00\x01",  # 255 characters
        header + b"\x01a\x40\x00\x01\x00\x01",  # an unknown extended label
        header + b"\x01a\x80\x00\x01\x00\x01",  # a reserved label type
        header + b"\x05short",  # truncated inside the name
        header + b"\x01a\x00\x00",  # truncated inside the type
    ]
    path = tmp_path / "hostile.pcap"
    write_pcap(path, [_raw(udp(message, 4000, 53)) for message in messages], linktype=101)
    _check(
        tshark,
        path,
        ["<Name contains a pointer that loops>"] * 2
        + ["<Root>", "<Name too long>", "<Unknown extended label>"],
    )


def test_tcp_dns_split_across_segments_and_ipv6(tmp_path: Path, tshark: str) -> None:
    first = dns_query("split.example.com", ident=1)
    second = dns_query("second.example.org", ident=2)
    stream = struct.pack("!H", len(first)) + first + struct.pack("!H", len(second)) + second
    src, dst = "fd00::1", "fd00::2"
    packets = [
        ethernet(tcp(b"", 40000, 53, seq=99, flags=0x02, src=src, dst=dst)),
        ethernet(tcp(stream[:10], 40000, 53, seq=100, src=src, dst=dst)),
        ethernet(tcp(stream[10:30], 40000, 53, seq=110, src=src, dst=dst)),
        ethernet(tcp(stream[30:], 40000, 53, seq=130, src=src, dst=dst)),
        ethernet(udp(dns_query("v6.example.net"), 5000, 53, src=src, dst=dst)),
        ethernet(udp(dns_response("v6.example.net", ["2001:db8::1"]), 53, 5000, src=dst, dst=src)),
    ]
    path = tmp_path / "tcp6.pcap"
    write_pcap(path, [(0.0, packet) for packet in packets])
    _check(tshark, path, ["split.example.com", "second.example.org", "v6.example.net"])


def test_fragmented_query_is_reassembled(tmp_path: Path, tshark: str) -> None:
    name = ".".join([f"label{index:02d}" + "x" * 50 for index in range(4)]) + ".example"
    datagram = udp(dns_query(name), 4000, 53)[20:]  # the UDP header and payload
    pieces = [datagram[:120], datagram[120:]]
    packets = []
    for offset, piece, more in ((0, pieces[0], 1), (120, pieces[1], 0)):
        header = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(piece),
            42,
            (more << 13) | (offset // 8),
            64,
            17,
            0,
            bytes([10, 0, 0, 1]),
            bytes([10, 0, 0, 2]),
        )
        packets.append((0.0, ethernet(header + piece)))
    path = tmp_path / "frag.pcap"
    write_pcap(path, packets)
    _check(tshark, path, [name])


def test_non_standard_ports_follow_tshark(tmp_path: Path, tshark: str) -> None:
    packets = [
        udp(dns_query("odd-port.example.com"), 40000, 8053),  # tshark's heuristic takes it
        udp(dns_query("mdns.local"), 5353, 5353),
        tcp(struct.pack("!H", 30) + dns_query("tcp-8053.example")[:30], 40001, 8053),
        udp(b"\x00\x01\x02\x03" * 8, 40002, 9999),  # not DNS
    ]
    path = tmp_path / "ports.pcap"
    write_pcap(path, [_raw(packet) for packet in packets], linktype=101)
    _check(tshark, path, ["odd-port.example.com", "mdns.local"])


def test_pcapng_and_cooked_linux_capture(tmp_path: Path, tshark: str) -> None:
    frames = []
    for index in range(20):
        packet = ip(
            17,
            struct.pack("!HHHH", 3000 + index, 53, 8 + 40, 0)
            + dns_query(f"host{index}.example.com")[:40],
            src="10.0.0.1",
            dst="10.0.0.2",
        )
        frames.append((float(index), struct.pack("!HHH8sH", 4, 1, 6, b"\x02" * 8, 0x0800) + packet))
    cooked = tmp_path / "cooked.pcap"
    write_pcap(cooked, frames, linktype=113)
    converted = tmp_path / "cooked.pcapng"
    subprocess.run(
        ["editcap", "-F", "pcapng", str(cooked), str(converted)], check=True, capture_output=True
    )
    _check(tshark, cooked)
    _check(tshark, converted)


def test_random_queries_match_tshark(tmp_path: Path, tshark: str) -> None:
    rng = random.Random(20261127)
    packets = []
    for index in range(1500):
        labels = b"".join(
            bytes([size])
            + bytes(
                rng.randrange(256) if rng.random() < 0.2 else rng.choice(b"abcxyz09-")
                for _ in range(size)
            )
            for size in (rng.randrange(1, 64) for _ in range(rng.randrange(0, 6)))
        )
        tail = rng.choice(
            [
                b"\x00",
                b"\x00",
                b"\xc0\x0c",
                bytes([0xC0, rng.randrange(256)]),
                b"\x41\x08\xab\x00",
                b"\x7f",
            ]
        )
        message = struct.pack("!HHHHHH", index, 0x0100, rng.choice([1, 1, 2, 3]), 0, 0, 0)
        message += labels + tail + b"\x00\x01\x00\x01"
        message += labels[::-1] + b"\x00\x00\x1c\x00\x01"
        if rng.random() < 0.1:
            message = message[: rng.randrange(len(message))]
        packets.append(_raw(udp(message, 4000, 53)))
    path = tmp_path / "random.pcap"
    write_pcap(path, packets, linktype=101)
    _check(tshark, path)
