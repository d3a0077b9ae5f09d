"""Report history and files as JSON: GET /api/v1/reports, one run and its files, and running a
report on demand (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from collector.errors import NotFound
from collector.store import reports
from collector.store.reports import ReportRun
from server.reports import runner
from server.reports.render import MEDIA_TYPES
from server.web.api_auth import AUTH_RESPONSES, ApiAdmin, ReportsReader
from server.web.deps import DbSession, RowId, State

router = APIRouter(tags=["reports"])

ReportName = Literal["weekly"]
Format = Literal["html", "pdf", "csv"]
RunId = RowId


class ReportRunOut(BaseModel):
    id: int
    report: str
    period: str
    trigger: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: dict[str, Any]
    outputs: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    error: str | None

    @classmethod
    def of(cls, run: ReportRun) -> ReportRunOut:
        return cls(
            id=run.id,
            report=run.report,
            period=run.period,
            trigger=run.trigger,
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            summary=run.summary,
            outputs=run.outputs,
            deliveries=run.deliveries,
            error=run.error,
        )


@router.get("/api/v1/reports", response_model=list[ReportRunOut], responses=AUTH_RESPONSES)
def list_report_runs(
    session: DbSession,
    _caller: ReportsReader,
    report: ReportName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ReportRunOut]:
    """List report runs, newest first: period, status, headline figures, deliveries."""
    runs = reports.list_report_runs(session, report=report, limit=limit, offset=offset)
    return [ReportRunOut.of(run) for run in runs]


@router.get(
    "/api/v1/reports/{run_id}",
    response_model=ReportRunOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such run"}},
)
def get_report_run(run_id: RunId, session: DbSession, _caller: ReportsReader) -> ReportRunOut:
    """Return one report run."""
    return ReportRunOut.of(reports.get_report_run(session, run_id=run_id))


_SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@router.get(
    "/api/v1/reports/{run_id}/files/{fmt}",
    response_class=FileResponse,
    responses={
        **AUTH_RESPONSES,
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
        404: {"description": "No such run or format"},
    },
)
def get_report_file(
    run_id: RunId, fmt: Format, session: DbSession, state: State, _caller: ReportsReader
) -> FileResponse:
    """Download one rendered file of a run (HTML is served sandboxed)."""
    run = reports.get_report_run(session, run_id=run_id)
    path = runner.report_file(state.settings, run, fmt)
    if path is None:
        raise NotFound("report file", f"{run_id}.{fmt}")
    headers = {"Content-Security-Policy": _SANDBOX} if fmt == "html" else {}
    return FileResponse(path, media_type=MEDIA_TYPES[fmt], filename=path.name, headers=headers)


@router.post(
    "/api/v1/reports/{name}/run",
    response_model=ReportRunOut,
    status_code=201,
    responses=AUTH_RESPONSES,
)
async def run_report_now(
    name: ReportName,
    state: State,
    _caller: ApiAdmin,
    deliver: bool = False,
) -> ReportRunOut:
    """Run a report now (on-demand period); optionally deliver it through the channels."""
    run = await run_in_threadpool(
        runner.run_report,
        state.sessions,
        state.settings,
        name=name,
        trigger="manual",
        deliver=deliver,
    )
    assert run is not None  # manual periods are unique
    return ReportRunOut.of(run)
