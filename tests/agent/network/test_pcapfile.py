"""The capture file reader: both pcap byte orders and resolutions, pcapng sections."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from agent.network import CaptureFileError
from agent.network.pcapfile import read_capture
from tests.packets import write_pcap


def test_pcap_round_trip_with_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    write_pcap(path, [(1.5, b"one"), (2.000001, b"two")], linktype=101)
    assert [
        (linktype, round(ts, 6), bytes(frame)) for linktype, ts, frame in read_capture(path)
    ] == [(101, 1.5, b"one"), (101, 2.000001, b"two")]


def test_big_endian_nanosecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "be.pcap"
    header = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    record = struct.pack(">IIII", 10, 500_000_000, 3, 3) + b"abc"
    path.write_bytes(header + record)
    assert [(linktype, ts, bytes(frame)) for linktype, ts, frame in read_capture(path)] == [
        (1, 10.5, b"abc")
    ]


def _block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def test_pcapng_sections_interfaces_and_resolution(tmp_path: Path) -> None:
    section = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    plain = _block(1, struct.pack("<HHI", 1, 0, 65535))
    nanos = _block(
        1,
        struct.pack("<HHI", 101, 0, 65535)
        + struct.pack("<HHB3x", 9, 1, 9)
        + struct.pack("<HH", 0, 0),
    )
    ticks = 3 * 1_000_000_000
    enhanced = _block(6, struct.pack("<IIIII", 1, ticks >> 32, ticks & 0xFFFFFFFF, 4, 4) + b"data")
    simple = _block(3, struct.pack("<I", 5) + b"hello")
    path = tmp_path / "two.pcapng"
    path.write_bytes(section + plain + nanos + enhanced + simple + section + plain + simple)
    records = [(linktype, ts, bytes(frame)) for linktype, ts, frame in read_capture(path)]
    assert records == [(101, 3.0, b"data"), (1, 0.0, b"hello"), (1, 0.0, b"hello")]


def test_progress_reaches_the_end(tmp_path: Path) -> None:
    path = tmp_path / "p.pcap"
    write_pcap(path, [(0.0, b"x" * 100)] * 10)
    calls: list[tuple[int, int]] = []
    list(read_capture(path, lambda done, total: calls.append((done, total))))
    assert calls[-1] == (path.stat().st_size, path.stat().st_size)


def test_not_a_capture(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(CaptureFileError, match="too short"):
        list(read_capture(empty))
