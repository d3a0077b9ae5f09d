"""The seam between the connectors and the network: one small interface for sending an HTTP
request, and its httpx implementation, which the connectors build over the server's one
outbound transport (server/outbound: destinations vetted after DNS resolution).

A connector builds the full URL and headers; the sender only sends and reports what came
back, or raises TransportFailed when nothing did (refused, reset, timed out). It never
retries and never follows redirects: retries and their backoff belong to the caller.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class TransportFailed(Exception):
    """No answer came back (connection refused or reset, DNS failure, timeout)."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What came back: the status and the body as text."""

    status: int
    text: str

    def json(self) -> Any:
        """Return the body parsed as JSON; raises ValueError when it is not JSON."""
        return jsonlib.loads(self.text)


class OutboundHttp(Protocol):
    """Anything that can send one request and say what came back."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: Any | None = None,
        timeout: float,
    ) -> HttpAnswer: ...

    def close(self) -> None: ...


class HttpxSender:
    """OutboundHttp over one pooled httpx client."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(transport=transport, follow_redirects=False)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        json: Any | None = None,
        timeout: float,
    ) -> HttpAnswer:
        try:
            response = self._client.request(
                method, url, headers=dict(headers), json=json, timeout=timeout
            )
        except httpx.TransportError as exc:
            raise TransportFailed(f"{type(exc).__name__}: {exc}") from exc
        return HttpAnswer(response.status_code, response.text)

    def close(self) -> None:
        self._client.close()
