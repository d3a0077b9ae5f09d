"""Errors raised by the collector.

Exception tree::

    CollectorError
     ├── ReportRejected          a report cannot be ingested (bad format, too big); nothing stored
     ├── AuthenticationFailed    a credential or enrollment token is unknown, expired or revoked
     │    └── EnrollmentRefused  an enrollment token cannot be used (expired, used up, revoked)
     │         └── ReenrollmentRefused  a known agent id enrolls again without proof
     ├── LogImportError          (collector/logimport) a DNS/proxy log cannot be read
     │    └── UnknownLogFormat   the format name is not one Shadowmap reads
     ├── NotFound                a requested record does not exist (kind, key)
     ├── Conflict                the change conflicts with the current state (e.g. a duplicate name)
     │    └── IdentityConflict   one agent id used from two machines (a clone); the agent rekeys
     └── StorageError            the database could not be reached or migrated
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base class for collector errors."""


class ReportRejected(CollectorError):
    def __init__(
        self, reason: str, *, path: str = "", too_large: bool = False, media_type: bool = False
    ) -> None:
        self.reason = reason
        self.path = path
        self.too_large = too_large
        self.media_type = media_type  # the body is not of the media type reports are sent as
        super().__init__(f"{path}: {reason}" if path else reason)


class AuthenticationFailed(CollectorError):
    def __init__(self, reason: str = "invalid credentials") -> None:
        self.reason = reason
        super().__init__(reason)


class EnrollmentRefused(AuthenticationFailed):
    pass


class ReenrollmentRefused(EnrollmentRefused):
    """An enrolled agent id enrolls again without its current credential or an admin's
    approval (or it is revoked): the enrollment token alone cannot take an identity over."""

    def __init__(self, agent_uid: str, why: str) -> None:
        self.agent_uid = agent_uid
        super().__init__(
            f"agent id {agent_uid} is already enrolled and {why}; enrolling it again needs its "
            "current credential (Authorization: Bearer) or an admin's approval "
            "(`shadowmap agent approve-reenroll`)"
        )


class NotFound(CollectorError):
    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class Conflict(CollectorError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class IdentityConflict(Conflict):
    def __init__(self, agent_uid: str) -> None:
        self.agent_uid = agent_uid
        super().__init__(
            f"agent id {agent_uid} is already in use on another machine; "
            "rekey: generate a new agent id and enroll again"
        )


class StorageError(CollectorError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
