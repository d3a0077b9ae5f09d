"""Live capture: a clear error without privilege, and real packets on loopback with it."""

from __future__ import annotations

import os
import socket
import time

import pytest

from agent.errors import AgentError
from agent.network import CapturePermissionError, LiveCapture
from agent.network.errors import CaptureError, NetworkError
from signatures import Matcher
from tests.packets import dns_query


def test_no_privilege_gives_an_actionable_error(
    monkeypatch: pytest.MonkeyPatch, matcher: Matcher
) -> None:
    real_socket = socket.socket

    def refuse(family: int = -1, *args: object, **kwargs: object) -> socket.socket:
        if family == getattr(socket, "AF_PACKET", None):
            raise PermissionError(1, "Operation not permitted")
        return real_socket(family, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", refuse)
    capture = LiveCapture(matcher)
    with pytest.raises(CapturePermissionError) as caught:
        capture.start()
    assert "CAP_NET_RAW" in str(caught.value) and "setcap" in str(caught.value)
    assert isinstance(caught.value, CaptureError | NetworkError | AgentError)
    assert not capture.running
    assert capture.drain() == []


def test_unknown_interface_is_a_capture_error(matcher: Matcher) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs CAP_NET_RAW (root)")
    with pytest.raises(CaptureError, match="no-such-if0"):
        LiveCapture(matcher, interface="no-such-if0").start()


def test_loopback_capture_reports_only_ai_names(matcher: Matcher) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs CAP_NET_RAW (root)")
    with LiveCapture(matcher, interface="lo") as capture:
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for index, name in enumerate(["huggingface.co", "www.example.org", "claude.ai"]):
                # Loopback only; nothing listens on port 53 here, the datagrams are dropped.
                sender.sendto(dns_query(name, ident=index), ("127.0.0.1", 53))
        finally:
            sender.close()
        deadline = time.monotonic() + 5
        found: set[str] = set()
        while time.monotonic() < deadline and len(found) < 2:
            time.sleep(0.1)
            found |= {finding.indicator for finding in capture.drain()}
    assert found == {"huggingface.co", "claude.ai"}
