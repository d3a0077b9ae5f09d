"""Bounded input checks the AI-management-system services share (text within a length, lists
within a size, values from a fixed set; each raises GuardFailed naming the field), and the
matching string types for their API schemas."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import StringConstraints

from server.errors import GuardFailed
from server.register.schemas import LINE, REQUIRED_LINE, REQUIRED_TEXT, TEXT


def text(value: str, field: str, *, limit: int, required: bool = False) -> str:
    """Return ``value`` stripped; raises GuardFailed when empty (if required) or too long."""
    value = value.strip()
    if required and not value:
        raise GuardFailed(field, "is required")
    if len(value) > limit:
        raise GuardFailed(field, f"at most {limit} characters")
    if "\x00" in value:
        raise GuardFailed(field, "must not contain NUL characters")
    return value


def items(
    values: Iterable[str], field: str, *, limit: int = 100, item_limit: int = 120
) -> list[str]:
    """Return the non-empty stripped values, unique in order; raises GuardFailed when too many
    or one is too long."""
    found: list[str] = []
    for value in values:
        value = text(value, field, limit=item_limit)
        if value and value not in found:
            found.append(value)
    if len(found) > limit:
        raise GuardFailed(field, f"at most {limit} values")
    return found


def choices(values: Iterable[str], field: str, allowed: Iterable[str]) -> list[str]:
    """Return the values, each one of ``allowed``; raises GuardFailed naming a stranger."""
    known = tuple(allowed)
    picked = items(values, field, limit=len(known) or 1)
    for value in picked:
        if value not in known:
            raise GuardFailed(field, f"{value!r} is not one of {', '.join(known)}")
    return picked


def choice(value: str, field: str, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; raises GuardFailed."""
    known = tuple(allowed)
    if value not in known:
        raise GuardFailed(field, f"must be one of {', '.join(known)}")
    return value


# The same rules for API schemas (OpenAPI), so that whatever the document calls valid passes
# the checks above: required text needs a character str.strip() keeps, one-line text has no
# control characters, free text no NUL. Scalars use Field(pattern=...) with these patterns.
__all__ = [
    "LINE", "REQUIRED_LINE", "REQUIRED_TEXT", "TEXT", "ItemName", "Question", "SupplierName",
    "choice", "choices", "items", "one_of", "text",
]  # fmt: skip


def one_of(values: Iterable[str]) -> str:
    """Return a pattern that matches exactly one of ``values``."""
    return "^(" + "|".join(re.escape(value) for value in values) + ")$"


#: A list item: a required one-line name of at most 120 characters (units, locations...).
ItemName = Annotated[str, StringConstraints(max_length=120, pattern=REQUIRED_LINE)]
#: A list item: a supplier's name.
SupplierName = Annotated[str, StringConstraints(max_length=255, pattern=REQUIRED_LINE)]
#: A question of an assessment template.
Question = Annotated[str, StringConstraints(max_length=500, pattern=REQUIRED_LINE)]
