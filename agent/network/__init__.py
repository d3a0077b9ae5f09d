"""Network discovery: DNS names and TLS/QUIC server names, live or from capture files."""

from agent.network.capture import LiveCapture, UnavailableCapture
from agent.network.errors import (
    CaptureError,
    CaptureFileError,
    CapturePermissionError,
    CaptureUnavailable,
    NetworkError,
)
from agent.network.observe import NetworkObserver, ObserverStats
from agent.network.offline import CaptureScan, findings_from_pcap, query_names, scan_capture

__all__ = [
    "CaptureError",
    "CaptureFileError",
    "CapturePermissionError",
    "CaptureScan",
    "CaptureUnavailable",
    "LiveCapture",
    "NetworkError",
    "NetworkObserver",
    "ObserverStats",
    "UnavailableCapture",
    "findings_from_pcap",
    "query_names",
    "scan_capture",
]
