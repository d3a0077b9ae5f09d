"""The people directory page: who is in it, by department, and the CSV import (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from collector.store import people
from server.errors import GuardFailed
from server.people import service
from server.web.deps import Admin, DbSession, State, Viewer
from server.web.rendering import check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/people", response_class=HTMLResponse)
def people_page(
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    imported: Annotated[int | None, Query(ge=0, le=service.MAX_ROWS)] = None,
) -> Response:
    return render_page(
        state,
        request,
        "people/people.html",
        who,
        people=people.list_people(session, limit=500),
        departments=sorted(people.count_people_by_department(session).items()),
        imported=imported,
    )


@router.post("/people/import")
async def people_import(request: Request, session: DbSession, who: Admin) -> Response:
    async with request.form(max_files=1, max_fields=5, max_part_size=service.MAX_BYTES) as form:
        check_csrf(who, str(form.get("csrf", "")))
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise GuardFailed("file", "choose a CSV file")
        data = await upload.read(service.MAX_BYTES + 1)
    result = service.import_directory(session, actor=who.user.username, data=data)
    return see_other(f"/people?imported={result.rows}")
