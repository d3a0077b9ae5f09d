"""Decode captured frames down to UDP datagrams and TCP segments, strictly and cheaply.

Link layers: Ethernet (with VLAN tags), Linux cooked v1/v2, raw IP, BSD loopback and PPP.
IPv4 and IPv6 fragments are reassembled in a small bounded table; anything malformed or
truncated yields nothing instead of raising.
"""

from __future__ import annotations

import struct
from collections import OrderedDict

# Link-layer types (LINKTYPE_* values from pcap files, and DLT_* aliases)
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW = 101
LINKTYPE_RAW_DLT = 12
LINKTYPE_RAW_DLT_OPENBSD = 14
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

PROTO_TCP = 6
PROTO_UDP = 17

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_IPV6_AH = 51

# A transport segment: (protocol, src, dst, sport, dport, payload, tcp_seq, tcp_flags).
# Addresses are packed bytes (4 or 16); UDP segments carry seq 0 and flags 0.
Segment = tuple[int, bytes, bytes, int, int, bytes, int, int]

_H = struct.Struct("!H")
_HH = struct.Struct("!HH")
_TCP = struct.Struct("!HHIIBB")
_BSD_FAMILIES_V4 = (2,)
_BSD_FAMILIES_V6 = (10, 24, 28, 30)


class Defragmenter:
    """Reassemble IP fragments; at most ``max_datagrams`` partial datagrams are kept."""

    def __init__(self, max_datagrams: int = 64, max_bytes: int = 65535) -> None:
        self._pending: OrderedDict[tuple[bytes, bytes, int, int], _Partial] = OrderedDict()
        self._max = max_datagrams
        self._max_bytes = max_bytes

    def add(
        self, key: tuple[bytes, bytes, int, int], offset: int, more: bool, data: bytes
    ) -> bytes | None:
        """Add one fragment; return the whole payload once every piece has arrived."""
        partial = self._pending.get(key)
        if partial is None:
            if len(self._pending) >= self._max:
                self._pending.popitem(last=False)
            partial = _Partial()
            self._pending[key] = partial
        end = offset + len(data)
        if end > self._max_bytes:
            del self._pending[key]
            return None
        partial.pieces[offset] = data
        if not more:
            partial.total = end
        if partial.total is None:
            return None
        assembled = bytearray()
        for start in sorted(partial.pieces):
            piece = partial.pieces[start]
            if start > len(assembled):
                return None  # a hole remains
            assembled[start : start + len(piece)] = piece
        if len(assembled) < partial.total:
            return None
        del self._pending[key]
        return bytes(assembled[: partial.total])


class _Partial:
    __slots__ = ("pieces", "total")

    def __init__(self) -> None:
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None


def decode_frame(linktype: int, frame: bytes, defrag: Defragmenter | None = None) -> Segment | None:
    """Return the UDP or TCP segment a link-layer frame carries, or None."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = (frame[12] << 8) | frame[13]
        offset = 14
        while ethertype in _VLAN_TAGS and len(frame) >= offset + 4:
            ethertype = (frame[offset + 2] << 8) | frame[offset + 3]
            offset += 4
        return _network(ethertype, frame, offset, defrag)
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_DLT, LINKTYPE_RAW_DLT_OPENBSD):
        if not frame:
            return None
        version = frame[0] >> 4
        return _network(
            ETH_IPV4 if version == 4 else ETH_IPV6 if version == 6 else 0, frame, 0, defrag
        )
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        return _network(_H.unpack_from(frame, 14)[0], frame, 16, defrag)
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        return _network(_H.unpack_from(frame, 0)[0], frame, 20, defrag)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if linktype == LINKTYPE_NULL and family > 0xFFFF:
            family = int.from_bytes(frame[:4], "big")  # written on a big-endian host
        if family in _BSD_FAMILIES_V4:
            return _network(ETH_IPV4, frame, 4, defrag)
        if family in _BSD_FAMILIES_V6:
            return _network(ETH_IPV6, frame, 4, defrag)
        return None
    if linktype == LINKTYPE_IPV4:
        return _network(ETH_IPV4, frame, 0, defrag)
    if linktype == LINKTYPE_IPV6:
        return _network(ETH_IPV6, frame, 0, defrag)
    if linktype == LINKTYPE_PPP:
        offset = 2 if frame[:2] == b"\xff\x03" else 0
        if len(frame) < offset + 2:
            return None
        protocol = _H.unpack_from(frame, offset)[0]
        if protocol == 0x0021:
            return _network(ETH_IPV4, frame, offset + 2, defrag)
        if protocol == 0x0057:
            return _network(ETH_IPV6, frame, offset + 2, defrag)
    return None


def _network(
    ethertype: int, frame: bytes, offset: int, defrag: Defragmenter | None
) -> Segment | None:
    if ethertype == ETH_IPV4:
        return decode_ipv4(frame, offset, defrag)
    if ethertype == ETH_IPV6:
        return decode_ipv6(frame, offset, defrag)
    return None


def decode_ipv4(frame: bytes, offset: int, defrag: Defragmenter | None = None) -> Segment | None:
    """Decode an IPv4 packet starting at ``offset``."""
    if len(frame) < offset + 20:
        return None
    first = frame[offset]
    header_length = (first & 0x0F) * 4
    if first >> 4 != 4 or header_length < 20:
        return None
    total_length = (frame[offset + 2] << 8) | frame[offset + 3]
    end = offset + total_length
    if total_length < header_length or end > len(frame):
        end = len(frame)  # truncated by the snap length: decode what was captured
        if end < offset + header_length:
            return None
    protocol = frame[offset + 9]
    src = frame[offset + 12 : offset + 16]
    dst = frame[offset + 16 : offset + 20]
    fragment = (frame[offset + 6] << 8) | frame[offset + 7]
    if fragment & 0x3FFF:  # more-fragments flag or a non-zero offset
        if defrag is None:
            return None
        ident = (frame[offset + 4] << 8) | frame[offset + 5]
        whole = defrag.add(
            (src, dst, ident, protocol),
            (fragment & 0x1FFF) * 8,
            bool(fragment & 0x2000),
            frame[offset + header_length : end],
        )
        if whole is None:
            return None
        return _transport(protocol, src, dst, whole, 0, len(whole))
    return _transport(protocol, src, dst, frame, offset + header_length, end)


def decode_ipv6(frame: bytes, offset: int, defrag: Defragmenter | None = None) -> Segment | None:
    """Decode an IPv6 packet starting at ``offset``, walking its extension headers."""
    if len(frame) < offset + 40 or frame[offset] >> 4 != 6:
        return None
    payload_length = (frame[offset + 4] << 8) | frame[offset + 5]
    protocol = frame[offset + 6]
    src = frame[offset + 8 : offset + 24]
    dst = frame[offset + 24 : offset + 40]
    position = offset + 40
    end = min(position + payload_length, len(frame))
    for _ in range(8):  # bounded walk: a chain of headers can not loop us forever
        if protocol in _IPV6_EXTENSIONS:
            if position + 8 > end:
                return None
            protocol = frame[position]
            position += (frame[position + 1] + 1) * 8
        elif protocol == _IPV6_AH:
            if position + 8 > end:
                return None
            protocol = frame[position]
            position += (frame[position + 1] + 2) * 4
        elif protocol == _IPV6_FRAGMENT:
            if position + 8 > end or defrag is None:
                return None
            next_header = frame[position]
            field = (frame[position + 2] << 8) | frame[position + 3]
            ident = int.from_bytes(frame[position + 4 : position + 8], "big")
            whole = defrag.add(
                (src, dst, ident, 256 + next_header),
                field & 0xFFF8,
                bool(field & 1),
                frame[position + 8 : end],
            )
            if whole is None:
                return None
            return _resume_ipv6(next_header, src, dst, whole)
        else:
            break
    if position > end:
        return None
    return _transport(protocol, src, dst, frame, position, end)


def _resume_ipv6(protocol: int, src: bytes, dst: bytes, payload: bytes) -> Segment | None:
    position = 0
    for _ in range(8):
        if protocol not in _IPV6_EXTENSIONS:
            break
        if position + 8 > len(payload):
            return None
        protocol = payload[position]
        position += (payload[position + 1] + 1) * 8
    return _transport(protocol, src, dst, payload, position, len(payload))


def _transport(
    protocol: int, src: bytes, dst: bytes, data: bytes, start: int, end: int
) -> Segment | None:
    if protocol == PROTO_UDP:
        if end - start < 8:
            return None
        sport, dport = _HH.unpack_from(data, start)
        length = (data[start + 4] << 8) | data[start + 5]
        stop = end
        if 8 <= length <= end - start:
            stop = start + length  # ignore link-layer padding after the datagram
        elif length < 8:
            return None
        return (PROTO_UDP, src, dst, sport, dport, data[start + 8 : stop], 0, 0)
    if protocol == PROTO_TCP:
        if end - start < 20:
            return None
        sport, dport, seq, _ack, data_offset, flags = _TCP.unpack_from(data, start)
        header_length = (data_offset >> 4) * 4
        if header_length < 20 or start + header_length > end:
            return None
        return (PROTO_TCP, src, dst, sport, dport, data[start + header_length : end], seq, flags)
    return None
