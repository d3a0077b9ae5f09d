"""Errors raised by the register services.

Exception tree::

    RegisterError
     ├── InvalidTransition   the state machine does not allow this move (kind, from, to)
     ├── GuardFailed         a rule blocks the change; names the field that must be fixed
     └── StaleVersion        the record changed since it was read (optimistic concurrency)

Mapped to HTTP in server/http_errors.py (409, 422, 409).
"""

from __future__ import annotations


class RegisterError(Exception):
    """Base class for register errors."""


class InvalidTransition(RegisterError):
    def __init__(self, kind: str, current: str, target: str, why: str) -> None:
        self.kind = kind
        self.current = current
        self.target = target
        super().__init__(f"{kind}: cannot go from {current!r} to {target!r} ({why})")


class GuardFailed(RegisterError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class StaleVersion(RegisterError):
    def __init__(self, register_id: str, expected: int, actual: int) -> None:
        self.register_id = register_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{register_id} changed since you opened it (version {expected}, now {actual}); "
            "reload and apply your change again"
        )
