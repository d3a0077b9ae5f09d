"""Errors raised by the server.

Exception tree::

    ServerError
     ├── SettingsError      a setting is missing or invalid (names the setting)
     ├── NotAuthenticated   no valid session or credential
     ├── Forbidden          the signed-in user's role does not allow this
     └── CsrfFailed         a form was posted without the session's CSRF token

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
