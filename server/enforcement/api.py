"""Enforcement exports over the API (register:read): each generated from the current register,
versioned by the register's serial, with a strong ETag (If-None-Match answers 304)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from server.enforcement.formats import EXPORTS, Mode
from server.enforcement.policy import build_policy
from server.web.api_auth import AUTH_RESPONSES, RegisterReader
from server.web.deps import DbSession, State
from server.web.etags import NOT_MODIFIED, body_with_etag

MEDIA_TYPES = {export.media_type for export in EXPORTS.values()}
router = APIRouter(prefix="/api/v1/enforcement", tags=["register"])
ExportName = Literal[
    "rpz",
    "hosts",
    "squid",
    "pac",
    "chrome-json",
    "chrome-mobileconfig",
    "chrome-reg",
    "firefox",
    "vscode",
]
#: The version of the export formats (bumped when one changes shape).
FORMAT_VERSION = 1


class ExportOut(BaseModel):
    name: str
    title: str
    filename: str
    media_type: str
    modes: list[str]


@router.get("", response_model=list[ExportOut], responses=AUTH_RESPONSES)
def list_exports(_who: RegisterReader) -> list[ExportOut]:
    """List the enforcement exports (blocklist and, for extension policies, allowlist mode)."""
    return [
        ExportOut(
            name=export.name,
            title=export.title,
            filename=export.filename,
            media_type=export.media_type,
            modes=["blocklist", "allowlist"] if export.modes else ["blocklist"],
        )
        for export in EXPORTS.values()
    ]


@router.get(
    "/{name}",
    response_class=Response,
    responses={
        **AUTH_RESPONSES,
        **NOT_MODIFIED,
        200: {
            "content": {media: {} for media in sorted(MEDIA_TYPES)},
            "description": "The export file",
        },
        422: {"description": "The register names something no tool could read"},
    },
)
def get_export(
    name: ExportName,
    request: Request,
    session: DbSession,
    state: State,
    _who: RegisterReader,
    mode: Annotated[Literal["blocklist", "allowlist"], Query()] = "blocklist",
) -> Response:
    """Generate one enforcement export from the current register (a download)."""
    export = EXPORTS[name]
    chosen: Mode = mode if export.modes else "blocklist"
    policy = build_policy(session, state.catalogue)
    body = export.render(policy, chosen).encode()
    suffix = "-allowlist" if chosen == "allowlist" else ""
    stem, dot, extension = export.filename.rpartition(".")
    filename = f"{stem}{suffix}{dot}{extension}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Shadowmap-Export-Version": str(FORMAT_VERSION),
        "Shadowmap-Register-Serial": str(policy.serial),
    }
    return body_with_etag(request, body, export.media_type, headers)
