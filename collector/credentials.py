"""Secrets handed to agents and browsers: generated here, stored only as hashes.

These are 256-bit random values, so one SHA-256 is enough at rest (unlike passwords, which
are hashed with argon2 by the server).
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """Return a fresh random secret, prefixed so a leaked one is recognisable (e.g. "smet_")."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    """Return the hex SHA-256 of a secret, the only form that is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()
