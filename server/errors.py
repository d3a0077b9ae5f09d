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
     └── InvalidSignature   a webhook signature is missing, malformed, stale or wrong

Collector errors (collector.errors) pass through and are mapped to HTTP in server/http_errors.py.
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


class InvalidSignature(ServerError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
