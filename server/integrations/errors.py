"""Errors raised by the integrations (connectors that push the register to other systems).

Exception tree::

    ServerError (server.errors)
     └── IntegrationError      a push to an external system failed (system)
          ├── RemoteAuthFailed    the remote refused our credential (401/403)
          ├── RemoteRejected      the remote answered 4xx about one object (object, status, body)
          └── RemoteUnavailable   5xx or no answer, still failing after the retries

httpx exceptions are translated at the boundary (server/integrations/ciso_assistant.py).
Messages never contain the credential.
"""

from __future__ import annotations

from server.errors import ServerError


class IntegrationError(ServerError):
    def __init__(self, system: str, message: str) -> None:
        self.system = system
        super().__init__(f"{system}: {message}")


class RemoteAuthFailed(IntegrationError):
    def __init__(self, system: str, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(
            system, f"the token was refused (HTTP {status}: {detail}); check the token setting"
        )


class RemoteRejected(IntegrationError):
    def __init__(self, system: str, object_label: str, status: int, body: str) -> None:
        self.object_label = object_label
        self.status = status
        self.body = body
        super().__init__(system, f"{object_label} was refused with HTTP {status}: {body}")


class RemoteUnavailable(IntegrationError):
    def __init__(self, system: str, object_label: str, attempts: int, reason: str) -> None:
        self.object_label = object_label
        self.attempts = attempts
        self.reason = reason
        super().__init__(system, f"{object_label} failed after {attempts} attempt(s): {reason}")
