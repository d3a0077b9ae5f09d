"""Conditional JSON responses of the v1 API: strong ETags and 304 on If-None-Match."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel


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


def body_with_etag(
    request: Request, body: bytes, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """Return ``body`` with a strong ETag, or 304 when If-None-Match matches."""
    etag = etag_of(body)
    sent = {**(headers or {}), "ETag": etag, "Cache-Control": "private, no-cache"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=sent)
    return Response(body, media_type=media_type, headers=sent)


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match ETag is still current"}
}
