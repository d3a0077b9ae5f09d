"""The one way the server makes HTTP requests to other systems (webhooks, the report webhook,
integrations): an httpx transport that vets every destination after DNS resolution and
connects to the vetted address, a per-destination concurrency limit, backoff with jitter,
and failure descriptions that reveal nothing about the internal network.

Adopt it by building clients with :func:`outbound_client` (or passing
:func:`outbound_transport` as an ``httpx.Client`` transport, with ``trust_env=False`` so that
no proxy from the environment is mounted in front of it). A refused destination raises
``server.errors.DestinationRefused``; network failures raise ``httpx`` errors as usual.
Redirects, if a client follows them, pass through the transport again and are vetted again.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import httpx

from server import __version__
from server.config import ServerSettings
from server.errors import DestinationRefused
from server.outbound.policy import AllowList, DestinationPolicy

# Inner transports (connection pools) kept per destination host; the least recently used
# beyond this many are closed.
_MAX_POOLS = 64


def destination_policy(settings: ServerSettings) -> DestinationPolicy:
    """Return the destination policy of these settings (outbound_allow)."""
    return DestinationPolicy(allow=AllowList.parse(settings.outbound_allow))


class OutboundTransport(httpx.BaseTransport):
    """An httpx transport that refuses forbidden destinations and pins vetted addresses.

    Each request's host is resolved once, every address is judged by the policy, and the
    connection is opened to a judged address (the Host header and the TLS server name stay
    the URL's host, so certificates are verified against it). Connection pools are kept per
    host name, so a TLS connection is only ever reused for the name it was verified for.
    At most ``per_destination`` requests to one host and port run at once; more wait.
    """

    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        per_destination: int = 4,
        verify: bool | str = True,
    ) -> None:
        self._policy = policy
        self._per_destination = per_destination
        self._verify = verify
        self._lock = threading.Lock()
        self._pools: OrderedDict[tuple[str, str, int], httpx.HTTPTransport] = OrderedDict()
        self._slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}

    def _pool(self, scheme: str, host: str, port: int) -> httpx.HTTPTransport:
        key = (scheme, host, port)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = httpx.HTTPTransport(verify=self._verify, trust_env=False, retries=0)
                self._pools[key] = pool
                while len(self._pools) > _MAX_POOLS:
                    _key, stale = self._pools.popitem(last=False)
                    stale.close()
            self._pools.move_to_end(key)
            return pool

    def _slot(self, host: str, port: int) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(
                (host, port), threading.BoundedSemaphore(self._per_destination)
            )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"scheme {url.scheme!r} is not allowed", request=request
            )
        host = url.raw_host.decode("ascii").lower()  # IDNA-encoded, as DNS and TLS see it
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = self._policy.resolve(host, port)
        pool = self._pool(url.scheme, host, port)
        extensions: dict[str, Any] = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host
        with self._slot(host, port):
            for index, address in enumerate(addresses):
                pinned = httpx.Request(
                    request.method,
                    url.copy_with(host=str(address)),
                    headers=request.headers,  # carries Host: the URL's host
                    stream=request.stream,
                    extensions=extensions,
                )
                try:
                    return pool.handle_request(pinned)
                except (httpx.ConnectError, httpx.ConnectTimeout):
                    # Nothing was sent: the next vetted address may answer.
                    if index == len(addresses) - 1:
                        raise
        raise AssertionError("unreachable: resolve() returns at least one address")

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


def outbound_transport(settings: ServerSettings) -> OutboundTransport:
    """Return a vetting transport for these settings (outbound_allow, outbound_per_destination)."""
    return OutboundTransport(
        destination_policy(settings), per_destination=settings.outbound_per_destination
    )


def outbound_client(
    settings: ServerSettings,
    *,
    timeout: float,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """Return an httpx client whose every request goes through the vetting transport.

    Redirects are not followed (a 3xx is the caller's to judge), no proxy or certificate
    setting is read from the environment, and the User-Agent names Shadowmap.
    """
    return httpx.Client(
        transport=outbound_transport(settings),
        timeout=timeout,
        base_url=base_url,
        headers={"User-Agent": f"Shadowmap/{__version__}", **(headers or {})},
        follow_redirects=False,
        trust_env=False,
    )


def describe_failure(exc: Exception) -> str:
    """Return what to record about a failed outbound call: the kind of failure only.

    Error texts of the network stack (errno strings, resolved addresses, "connection
    refused" against "no route") would let whoever reads the delivery log map the network.
    """
    if isinstance(exc, DestinationRefused):
        return "destination refused: not a public address"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported URL scheme"
    return "connection failed"


def describe_status(status_code: int) -> str:
    """Return what to record about a non-2xx answer (a 3xx is not followed)."""
    if 300 <= status_code < 400:
        return f"receiver answered {status_code} (redirects are not followed)"
    return f"receiver answered {status_code}"


def backoff_delay(
    attempts: int,
    *,
    base: dt.timedelta,
    cap: dt.timedelta,
    rng: random.Random | None = None,
) -> dt.timedelta:
    """Return the wait after ``attempts`` failures: ``base`` doubling per failure up to
    ``cap``, of which a random half is waited ("equal jitter"), so that retries of many
    deliveries that failed together do not arrive together."""
    ceiling: dt.timedelta = min(cap, base * (2 ** max(0, attempts - 1)))
    fraction = (rng or random).random()
    return ceiling / 2 + ceiling / 2 * fraction
