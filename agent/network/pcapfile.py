"""Read pcap and pcapng capture files with struct.

The reader maps the file and yields ``(linktype, timestamp, frame)`` per packet; a truncated
last record ends the iteration quietly (a capture cut short is still worth reading).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from agent.network.errors import CaptureFileError

Record = tuple[int, float, bytes]
ProgressCallback = Callable[[int, int], None]

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A

# pcapng block types
_IDB, _OPB, _SPB, _EPB = 1, 2, 3, 6
_PROGRESS_STEP = 4 * 1024 * 1024


def read_capture(path: str | Path, progress: ProgressCallback | None = None) -> Iterator[Record]:
    """Yield every packet of a pcap or pcapng file.

    Raises CaptureFileError when the file cannot be opened or has neither format's magic.
    """
    name = str(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise CaptureFileError(name, exc.strerror or str(exc)) from exc
    try:
        size = _size(handle)
        if size < 4:
            raise CaptureFileError(name, "file is too short to be a capture")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            magic_le = struct.unpack_from("<I", view, 0)[0]
            magic_be = struct.unpack_from(">I", view, 0)[0]
            if magic_le in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
                yield from _read_pcap(view, "<", magic_le == PCAP_MAGIC_NSEC, progress)
            elif magic_be in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC):
                yield from _read_pcap(view, ">", magic_be == PCAP_MAGIC_NSEC, progress)
            elif magic_le == PCAPNG_SHB:
                yield from _read_pcapng(view, name, progress)
            else:
                raise CaptureFileError(name, "not a pcap or pcapng file (unknown magic number)")
    finally:
        handle.close()


def _size(handle: BinaryIO) -> int:
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(0)
    return size


def _read_pcap(
    view: mmap.mmap, order: str, nanoseconds: bool, progress: ProgressCallback | None
) -> Iterator[Record]:
    total = len(view)
    if total < 24:
        return
    linktype = struct.unpack_from(order + "I", view, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    unpack = record.unpack_from
    scale = 1e-9 if nanoseconds else 1e-6
    offset = 24
    next_report = _PROGRESS_STEP
    while offset + 16 <= total:
        seconds, fraction, caplen, _origlen = unpack(view, offset)
        start = offset + 16
        offset = start + caplen
        if offset > total:
            return
        yield linktype, seconds + fraction * scale, view[start:offset]
        if progress is not None and offset >= next_report:
            progress(offset, total)
            next_report = offset + _PROGRESS_STEP
    if progress is not None:
        progress(total, total)


def _read_pcapng(view: mmap.mmap, name: str, progress: ProgressCallback | None) -> Iterator[Record]:
    total = len(view)
    order = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, seconds per timestamp unit)
    offset = 0
    next_report = _PROGRESS_STEP
    while offset + 12 <= total:
        block_type = struct.unpack_from(order + "I", view, offset)[0]
        if block_type == PCAPNG_SHB:
            magic = view[offset + 8 : offset + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise CaptureFileError(name, "pcapng section header has a bad byte-order magic")
            interfaces = []
        block_length = struct.unpack_from(order + "I", view, offset + 4)[0]
        if block_length < 12 or block_length % 4 or offset + block_length > total:
            return  # truncated or corrupt: stop where the readable part ends
        body = offset + 8
        end = offset + block_length - 4
        if block_type == _EPB and end - body >= 20:
            iface, ts_high, ts_low, caplen, _orig = struct.unpack_from(order + "IIIII", view, body)
            start = body + 20
            if iface < len(interfaces) and start + caplen <= end:
                linktype, unit = interfaces[iface]
                yield linktype, ((ts_high << 32) | ts_low) * unit, view[start : start + caplen]
        elif block_type == _SPB and end - body >= 4 and interfaces:
            original = struct.unpack_from(order + "I", view, body)[0]
            caplen = min(original, end - body - 4)
            yield interfaces[0][0], 0.0, view[body + 4 : body + 4 + caplen]
        elif block_type == _OPB and end - body >= 20:
            iface, _drops, ts_high, ts_low, caplen, _orig = struct.unpack_from(
                order + "HHIIII", view, body
            )
            start = body + 20
            if iface < len(interfaces) and start + caplen <= end:
                linktype, unit = interfaces[iface]
                yield linktype, ((ts_high << 32) | ts_low) * unit, view[start : start + caplen]
        elif block_type == _IDB and end - body >= 8:
            linktype = struct.unpack_from(order + "H", view, body)[0]
            interfaces.append((linktype, _timestamp_unit(view, order, body + 8, end)))
        offset += block_length
        if progress is not None and offset >= next_report:
            progress(offset, total)
            next_report = offset + _PROGRESS_STEP
    if progress is not None:
        progress(total, total)


def _timestamp_unit(view: mmap.mmap, order: str, offset: int, end: int) -> float:
    """Return seconds per timestamp tick from an interface block's if_tsresol option."""
    while offset + 4 <= end:
        code, length = struct.unpack_from(order + "HH", view, offset)
        if code == 0:
            break
        if code == 9 and length >= 1 and offset + 5 <= end:
            resolution = view[offset + 4]
            if resolution & 0x80:
                return float(2 ** -(resolution & 0x7F))
            return float(10 ** -(resolution & 0x7F))
        offset += 4 + ((length + 3) & ~3)
    return 1e-6
