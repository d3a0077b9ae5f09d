"""Errors raised by the server.

Exception tree::

    ServerError
     ├── SettingsError      a setting is missing or invalid (names the setting)
     ├── NotAuthenticated   no valid session or credential
     ├── Forbidden          the signed-in user's role does not allow this
     ├── CsrfFailed         a form was posted without the session's CSRF token
     ├── RateLimited        an API caller used up its request budget (retry_after seconds)
     ├── RequestTooLarge    a request body is over the configured limit
     ├── InvalidInput       a parameter is malformed (names the field), e.g. a sync cursor
     ├── DeliveryFailed     a report or webhook could not be delivered (channel, reason)
     ├── DestinationRefused an outbound call's host is not a public address and not allowed
     ├── InvalidSignature   a webhook signature is missing, malformed, stale or wrong
     ├── InvalidTransition  a state machine does not allow this move (kind, from, to)
     ├── GuardFailed        a rule blocks the change; names the field that must be fixed
     ├── StaleVersion       the record changed since it was read (optimistic concurrency)
     ├── CatalogueImportError  a catalogue source snapshot or override is unreadable or wrong
 └── PackagingError     `shadowmap package` cannot build (bad input, a missing tool or runtime)

The last three are raised by the domain services (triage, register, accounts) whichever of the
UI, the API or the CLI calls them. Collector errors (collector.errors) pass through; both are
mapped to HTTP in server/web/http_errors.py.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base class for server errors."""


class SettingsError(ServerError):
    pass


class NotAuthenticated(ServerError):
    pass


class Forbidden(ServerError):
    def __init__(self, reason: str = "your role does not allow this") -> None:
        self.reason = reason
        super().__init__(reason)


class CsrfFailed(ServerError):
    pass


class RateLimited(ServerError):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"rate limit exceeded; retry in {retry_after:.1f}s")


class RequestTooLarge(ServerError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"request body larger than {limit} bytes")


class InvalidInput(ServerError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class DeliveryFailed(ServerError):
    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel} delivery failed: {reason}")


class DestinationRefused(ServerError):
    """The host of an outbound call resolves to an address the server may not reach.

    ``address_class`` ("loopback", "private", "cloud metadata", "unresolvable"...) and
    ``address`` are for the server's own log; the message shown to callers names neither, so
    that refusals reveal nothing about the internal network.
    """

    def __init__(self, host: str, address_class: str, *, address: str = "") -> None:
        self.host = host
        self.address_class = address_class
        self.address = address
        super().__init__(
            f"destination refused: {host} does not resolve to a public address "
            "(an admin can allow it with SHADOWMAP_OUTBOUND_ALLOW)"
        )


class InvalidSignature(ServerError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class InvalidTransition(ServerError):
    def __init__(self, kind: str, current: str, target: str, why: str) -> None:
        self.kind = kind
        self.current = current
        self.target = target
        super().__init__(f"{kind}: cannot go from {current!r} to {target!r} ({why})")


class GuardFailed(ServerError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class StaleVersion(ServerError):
    def __init__(self, register_id: str, expected: int, actual: int) -> None:
        self.register_id = register_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{register_id} changed since you opened it (version {expected}, now {actual}); "
            "reload and apply your change again"
        )


class CatalogueImportError(ServerError):
    """A catalogue source snapshot or the overrides file is unreadable or wrong (names where)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class PackagingError(ServerError):
    """`shadowmap package` cannot build the requested package; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
