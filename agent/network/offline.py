"""Read a pcap/pcapng file and report the AI names it shows (``shadowmap-agent dns --pcap``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.network.dns import parse_message
from agent.network.observe import NetworkObserver, ObserverStats
from agent.network.packet import Defragmenter, decode_frame
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
    for linktype, timestamp, frame in read_capture(path, progress):
        segment = decode_frame(linktype, frame, defrag)
        if segment is not None:
            feed(segment, timestamp)


class _QueryNames(NetworkObserver):
    def __init__(self) -> None:
        from signatures import Catalogue

        super().__init__(Matcher(Catalogue(version="", services=())), source="pcap")
        self.names: list[str] = []

    def dns_message(self, payload: bytes, src: bytes, dst: bytes, timestamp: float) -> None:
        message = parse_message(payload)
        if message is not None and not message.response:
            self.names.extend(name for name, _qtype in message.questions)

    def server_name(self, name: str, transport: str, src: bytes, dst: bytes, timestamp: float) -> None:
        return None


