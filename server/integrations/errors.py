"""Errors raised by the integrations (connectors that push the register to other systems).

Exception tree::

    ServerError (server.errors)
     └── IntegrationError      a push to an external system failed (system)
          ├── RemoteAuthFailed    the remote refused our credential (401)
          ├── RemoteRejected      the remote answered 4xx about one object (object, status, body)
          │    └── RemoteForbidden   403: the credential is fine, its user's role in the
          │                          folder does not allow the write (folder)
          ├── RemoteMismatch      a write was answered 2xx but reading back shows other values
          ├── RemoteMalformed     an answer that is not what the API documents (e.g. a listing
          │                       whose pages do not advance)
          ├── RemoteNotAllowed    the remote's host resolves to an address the server may not
          │                       reach (server/outbound: loopback, private... unless allowed)
          └── RemoteUnavailable   5xx or no answer, still failing after the retries

A push stops on RemoteAuthFailed, RemoteMalformed, RemoteNotAllowed and RemoteUnavailable;
RemoteRejected and RemoteMismatch concern one object: the push reports them and goes on with
the rest.
Transport exceptions are translated at the boundary (server/integrations/http.py).
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
        super().__init__(system, self._message())

    def _message(self) -> str:
        return f"{self.object_label} was refused with HTTP {self.status}: {self.body}"


class RemoteForbidden(RemoteRejected):
    def __init__(self, system: str, object_label: str, folder: str, body: str) -> None:
        self.folder = folder
        super().__init__(system, object_label, 403, body)

    def _message(self) -> str:
        return (
            f"{self.object_label} was refused with HTTP 403 in folder {self.folder}: "
            f"{self.body}; the token was accepted, but its user's role in that folder does not "
            f"allow this write (give the user the Analyst role on the folder)"
        )


class RemoteMismatch(IntegrationError):
    def __init__(self, system: str, object_label: str, fields: dict[str, tuple[object, object]]):
        self.object_label = object_label
        self.fields = fields
        shown = "; ".join(
            f"{name}: sent {sent!r}, stored {stored!r}" for name, (sent, stored) in fields.items()
        )
        super().__init__(
            system, f"{object_label} was accepted but reads back differently ({shown})"
        )


class RemoteMalformed(IntegrationError):
    def __init__(self, system: str, object_label: str, reason: str) -> None:
        self.object_label = object_label
        self.reason = reason
        super().__init__(system, f"{object_label}: unexpected answer: {reason}")


class RemoteUnavailable(IntegrationError):
    def __init__(self, system: str, object_label: str, attempts: int, reason: str) -> None:
        self.object_label = object_label
        self.attempts = attempts
        self.reason = reason
        super().__init__(system, f"{object_label} failed after {attempts} attempt(s): {reason}")


class RemoteNotAllowed(IntegrationError):
    def __init__(self, system: str, host: str) -> None:
        self.host = host
        super().__init__(
            system,
            f"{host} resolves to an address this server does not call (loopback, private, "
            "link-local or metadata); if it is yours, name it in SHADOWMAP_OUTBOUND_ALLOW",
        )
