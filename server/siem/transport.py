"""Where queued events go: a syslog receiver over TLS (RFC 5425) and a JSON-lines file.

Syslog over TLS has no acknowledgement of its own. A batch counts as delivered only when the
receiver has answered our TLS close_notify with its own: TLS is ordered, so the receiver has
read every message before it. A batch that fails anywhere before that stays queued and is
sent again (at-least-once; the event id in each message lets a receiver drop a repeat).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from server.siem.errors import DestinationFailed
from server.siem.events import Event
from server.siem.formats import ecs_document, octet_counted, syslog_message


class Destination(Protocol):
    """Something that takes a batch of events whole, or raises DestinationFailed."""

    name: str

    def deliver(self, events: Sequence[Event]) -> None: ...


class SyslogTls:
    """RFC 5424 messages, octet-counted, over one TLS connection per batch."""

    name = "syslog"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        fmt: str,
        context: ssl.SSLContext,
        server_name: str,
        timeout: float,
        hostname: str,
    ) -> None:
        self._address = (host, port)
        self._fmt = fmt
        self._context = context
        self._server_name = server_name
        self._timeout = timeout
        self._hostname = hostname

    def deliver(self, events: Sequence[Event]) -> None:
        frames = b"".join(
            octet_counted(syslog_message(event, self._fmt, hostname=self._hostname))
            for event in events
        )
        try:
            with socket.create_connection(self._address, timeout=self._timeout) as raw:
                tls = self._context.wrap_socket(raw, server_hostname=self._server_name)
                try:
                    tls.sendall(frames)
                    # Wait for the receiver's close_notify: it has read everything before it.
                    tls.unwrap()
                finally:
                    tls.close()
        except (OSError, ssl.SSLError) as exc:
            raise DestinationFailed(self.name, f"{type(exc).__name__}: {exc}") from exc


class EcsFile:
    """One ECS document per line, appended and flushed to disk before a batch counts."""

    name = "ecs_file"

    def __init__(self, path: Path) -> None:
        self._path = path

    def deliver(self, events: Sequence[Event]) -> None:
        lines = "".join(
            json.dumps(ecs_document(event), separators=(",", ":"), ensure_ascii=False) + "\n"
            for event in events
        )
        try:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(lines)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DestinationFailed(self.name, f"cannot append to {self._path}: {exc}") from exc


def tls_context(
    *, ca_file: Path | None, client_cert: Path | None, client_key: Path | None
) -> ssl.SSLContext:
    """A client context that verifies the receiver (the CA file, else the system's trust
    store), TLS 1.2 or newer, with a client certificate when one is set."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        context.load_cert_chain(str(client_cert), str(client_key) if client_key else None)
    return context
