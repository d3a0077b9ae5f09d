"""Generic helpers of the v1 API: opaque sync cursors and ETag responses (If-None-Match)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from server.errors import InvalidInput

_CURSOR_VERSION = 1


def encode_cursor(*, entity: str, seq: int) -> str:
    """Return the opaque cursor that resumes ``entity``'s change feed after ``seq``."""
    raw = json.dumps({"v": _CURSOR_VERSION, "e": entity, "s": seq}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, entity: str) -> int:
    """Return the change number a cursor stands for; raises InvalidInput naming "cursor"."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeEncodeError, binascii.Error) as exc:
        raise InvalidInput("cursor", "not a cursor returned by this API") from exc
    if (
        not isinstance(data, dict)
        or data.get("v") != _CURSOR_VERSION
        or not isinstance(data.get("s"), int)
        or isinstance(data.get("s"), bool)
        or data["s"] < 0
    ):
        raise InvalidInput("cursor", "not a cursor returned by this API")
    if data.get("e") != entity:
        raise InvalidInput("cursor", f"this cursor belongs to another feed ({data.get('e')!r})")
    seq: int = data["s"]
    return seq


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
