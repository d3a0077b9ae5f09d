"""Read a pcap/pcapng file and report the AI names it shows (``shadowmap-agent dns --pcap``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.network.dns import parse_message
from agent.network.observe import DNS_UDP_PORTS, NetworkObserver, ObserverStats
from agent.network.packet import LINKTYPE_ETHERNET, PROTO_UDP, Defragmenter, decode_frame
from agent.network.pcapfile import ProgressCallback, read_capture
from signatures import Finding, Matcher


@dataclass(frozen=True, slots=True)
class CaptureScan:
    """The outcome of reading one capture file."""

    path: str
    findings: list[Finding]
    stats: ObserverStats

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able document: the findings and the packet counters."""
        return {
            "path": self.path,
            "findings": [finding.to_dict() for finding in self.findings],
            "stats": dataclasses.asdict(self.stats),
        }


def scan_capture(
    path: str | Path, matcher: Matcher, progress: ProgressCallback | None = None
) -> CaptureScan:
    """Read a capture file and return the AI findings (DNS names and TLS/QUIC SNI) in it.

    Raises CaptureFileError when the file cannot be read as pcap or pcapng.
    """
    observer = NetworkObserver(matcher, source="pcap")
    _feed(observer, path, progress)
    return CaptureScan(path=str(path), findings=observer.findings(), stats=observer.stats)


def findings_from_pcap(path: str | Path, matcher: Matcher) -> list[Finding]:
    """Return the AI findings of a capture file; raises CaptureFileError."""
    return scan_capture(path, matcher).findings


def query_names(path: str | Path) -> list[str]:
    """Return every question name of every DNS query in a capture, as tshark renders them.

    A diagnostic for checking the parser against tshark; it keeps every name, matching nothing.
    """
    collector = _QueryNames()
    _feed(collector, path, None)
    return collector.names


def _feed(observer: NetworkObserver, path: str | Path, progress: ProgressCallback | None) -> None:
    defrag = Defragmenter()
    feed = observer.feed
    dns = observer.dns_message
    dns_ports = DNS_UDP_PORTS
    for linktype, timestamp, frame in read_capture(path, progress):
        # Fast path for the common case: Ethernet, IPv4 without options or fragments, UDP.
        if (
            linktype == LINKTYPE_ETHERNET
            and len(frame) >= 42
            and frame[12] == 8
            and frame[13] == 0
            and frame[14] == 0x45
            and frame[23] == PROTO_UDP
            and not frame[20] & 0x3F
            and not frame[21]
        ):
            end = min(
                len(frame), 14 + ((frame[16] << 8) | frame[17]), 34 + ((frame[38] << 8) | frame[39])
            )
            if end >= 42:
                sport = (frame[34] << 8) | frame[35]
                dport = (frame[36] << 8) | frame[37]
                if (sport in dns_ports or dport in dns_ports) and end > 42:
                    observer.stats.packets += 1
                    dns(frame[42:end], frame[26:30], frame[30:34], timestamp, sport, dport)
                else:
                    feed(
                        (PROTO_UDP, frame[26:30], frame[30:34], sport, dport, frame[42:end], 0, 0),
                        timestamp,
                    )
            continue
        segment = decode_frame(linktype, frame, defrag)
        if segment is not None:
            feed(segment, timestamp)


class _QueryNames(NetworkObserver):
    def __init__(self) -> None:
        from signatures import Catalogue

        super().__init__(Matcher(Catalogue(version="", services=())), source="pcap")
        self.names: list[str] = []

    def dns_message(
        self,
        payload: bytes,
        src: bytes,
        dst: bytes,
        timestamp: float,
        sport: int = 0,
        dport: int = 0,
    ) -> None:
        if len(payload) < 12 or payload[2] & 0x80:
            return  # a response: its questions are not queries
        message = parse_message(payload)
        if message is not None:
            self.names.extend(name for name, _qtype in message.questions)

    def server_name(
        self, name: str, transport: str, src: bytes, dst: bytes, timestamp: float
    ) -> None:
        return None
