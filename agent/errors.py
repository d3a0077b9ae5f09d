"""Errors raised by the agent.

Exception tree::

    AgentError
     ├── ConfigError        a setting is invalid (names the setting and the source)
     ├── NotEnrolled        no credential yet; run `shadowmap-agent enroll`
     ├── NetworkError       (agent/network/errors.py) capture and capture files
     │    ├── CaptureFileError        a pcap/pcapng file cannot be read
     │    └── CaptureError            live capture cannot run
     │         ├── CapturePermissionError   no CAP_NET_RAW; the message says how to grant it
     │         └── CaptureUnavailable       not supported on this platform
     ├── SpoolError         the offline spool cannot be opened or written (e.g. a full disk)
     └── ReportError        the collector could not be reached or refused a request
          ├── CollectorUnreachable   network failure or timeout; worth retrying later
          └── CollectorRefused       the collector answered with an error status (status, detail)
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class for agent errors."""


class ConfigError(AgentError):
    def __init__(self, setting: str, reason: str, *, source: str = "") -> None:
        self.setting = setting
        self.reason = reason
        self.source = source
        where = f" (from {source})" if source else ""
        super().__init__(f"setting {setting!r}{where}: {reason}")


class NotEnrolled(AgentError):
    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        super().__init__(
            f"this agent is not enrolled (no credential in {state_dir}); "
            "run `shadowmap-agent enroll --server URL --token TOKEN`"
        )


class SpoolError(AgentError):
    pass


class ReportError(AgentError):
    pass


class CollectorUnreachable(ReportError):
    pass


class CollectorRefused(ReportError):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"collector answered {status}: {detail}")

    @property
    def retryable(self) -> bool:
        return self.status in (408, 425, 429) or self.status >= 500
