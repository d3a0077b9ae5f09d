"""Errors raised by network discovery (live capture and capture files).

Exception tree (a branch of :class:`agent.errors.AgentError`)::

    AgentError
     └── NetworkError
          ├── CaptureFileError            a pcap/pcapng file cannot be read (path, reason)
          └── CaptureError                live capture cannot run (reason)
               ├── CapturePermissionError  no privilege to open a packet socket
               └── CaptureUnavailable      the platform or libpcap lacks what capture needs

Malformed packets are never errors: they are counted and skipped.
"""

from __future__ import annotations

from agent.errors import AgentError


class NetworkError(AgentError):
    """Base class for network discovery errors."""


class CaptureFileError(NetworkError):
    """A capture file is missing, unreadable or not pcap/pcapng."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class CaptureError(NetworkError):
    """Live capture cannot run; the other scanners carry on without it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CapturePermissionError(CaptureError):
    """The process may not open a packet socket."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(
            reason
            or "live DNS/SNI capture needs the CAP_NET_RAW capability: run the agent as root, "
            "or grant it with `setcap cap_net_raw+ep <python or agent binary>` "
            "(the systemd unit can set AmbientCapabilities=CAP_NET_RAW); "
            "the other scanners run without it"
        )


class CaptureUnavailable(CaptureError):
    """Live capture is not supported here (not Linux, or libpcap missing)."""
