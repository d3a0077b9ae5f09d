"""Errors of single sign-on.

Exception tree::

    ServerError (server.errors)
     └── SsoError                  single sign-on did not let someone in
          ├── SsoRefused           a sign-in or logout message that must not be trusted: bad or
          │                        missing state, an ID token with a wrong audience, expired,
          │                        unsigned, badly signed, a replayed code... (reason)
          ├── SsoNotAllowed        the person is known to the provider but may not use
          │                        Shadowmap: no role maps from their groups, or their name is a
          │                        local account's (reason)
          └── ProviderUnavailable  the provider could not be reached or answered nonsense

joserfc and httpx exceptions are translated at the boundary (server/sso/oidc.py). Messages
never contain a token, a code or a secret.
"""

from __future__ import annotations

from server.errors import ServerError


class SsoError(ServerError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SsoRefused(SsoError):
    pass


class SsoNotAllowed(SsoError):
    pass


class ProviderUnavailable(SsoError):
    pass
