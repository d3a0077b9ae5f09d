"""Generic helpers of the v1 API: opaque sync cursors and ETag responses (If-None-Match)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from server.errors import InvalidInput

#: Each feed's cursor prefix; a cursor is the prefix and the last change number in hex.
#: Clients must treat cursors as opaque; the format is published only as a pattern so that
#: every string the OpenAPI document admits is a cursor.
FEED_PREFIXES = {"inventory.item": "i", "register.entry": "r"}


def cursor_pattern(entity: str) -> str:
    """Return the pattern of ``entity``'s cursors (at most 15 hex digits: fits a BIGINT)."""
    return rf"^{FEED_PREFIXES[entity]}[0-9a-f]{{1,15}}$"


def encode_cursor(*, entity: str, seq: int) -> str:
    """Return the opaque cursor that resumes ``entity``'s change feed after ``seq``."""
    return f"{FEED_PREFIXES[entity]}{seq:x}"


def decode_cursor(cursor: str, *, entity: str) -> int:
    """Return the change number a cursor stands for; raises InvalidInput naming "cursor"."""
    if not re.fullmatch(r"[a-z][0-9a-f]{1,15}", cursor):
        raise InvalidInput("cursor", "not a cursor returned by this API")
    if cursor[0] != FEED_PREFIXES[entity]:
        raise InvalidInput("cursor", "this cursor belongs to another feed")
    return int(cursor[1:], 16)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates


def json_with_etag(request: Request, payload: BaseModel) -> Response:
    """Return ``payload`` as JSON with a strong ETag, or 304 when If-None-Match matches."""
    body = payload.model_dump_json().encode()
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match ETag is still current"}
}
