"""The roles a local account holds, lowest first: viewer < reviewer < admin."""

from __future__ import annotations

ROLES = ("admin", "reviewer", "viewer")
_RANK = {"viewer": 0, "reviewer": 1, "admin": 2}


def role_allows(role: str, needed: str) -> bool:
    """Return whether ``role`` is ``needed`` or a higher role."""
    return _RANK[role] >= _RANK[needed]
