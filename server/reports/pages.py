"""The reports page inside the app: run a report now over a chosen date range, and the history
of every run (paged) with its headline figures, deliveries and files."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from collector.store import reports
from collector.store.base import utcnow
from server.reports import runner
from server.state import AppState
from server.web.deps import Admin, DbSession, SignedIn, State, Viewer
from server.web.listing import ListSpec, SortColumn, choice, read_view
from server.web.rendering import check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)

RUN_LIST = ListSpec(
    path="/reports",
    noun=("run", "runs"),
    sorts=(
        SortColumn("started", "Started", descending_first=True),
        SortColumn("report", "Report"),
        SortColumn("status", "Status"),
    ),
    default_sort="started",
    default_descending=True,
    filters=("status", "ran"),
    page_sizes=(25, 50, 100),
    default_page_size=25,
)
#: The longest window a report run may cover.
MAX_RANGE_DAYS = 366


def _page(
    request: Request,
    session: DbSession,
    state: AppState,
    who: SignedIn,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    view = read_view(request, RUN_LIST)
    wanted = choice(view, "status", ("done", "failed", "running"), "status")
    page = view.show(
        lambda page: reports.page_report_runs(session, page=page, status=wanted or None)
    )
    ran = view.filters["ran"]
    view.filters["ran"] = ""
    today = utcnow().date()
    return render_page(
        state,
        request,
        "reports/history.html",
        who,
        status=status,
        page=page,
        view=view,
        f=view.filters,
        ran=int(ran) if ran.isdigit() else None,
        definitions=runner.REPORTS,
        errors=errors or {},
        typed=typed
        or {"start": (today - dt.timedelta(days=7)).isoformat(), "end": today.isoformat()},
    )


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    """Run a report now, and the history of runs."""
    return _page(request, session, state, who)


def _window(start: str, end: str, errors: dict[str, str]) -> tuple[dt.datetime, dt.datetime]:
    """Read a date range (whole UTC days, the end day included) from the form."""
    days: dict[str, dt.date] = {}
    for name, text in (("start", start), ("end", end)):
        try:
            days[name] = dt.date.fromisoformat(text)
        except ValueError:
            errors[name] = "use a date like 2026-11-27"
    if not errors:
        if days["end"] < days["start"]:
            errors["end"] = "the end is before the start"
        elif (days["end"] - days["start"]).days >= MAX_RANGE_DAYS:
            errors["end"] = f"a report covers at most {MAX_RANGE_DAYS} days"
        elif days["start"] > utcnow().date():
            errors["start"] = "the start is in the future"
    if errors:
        return utcnow(), utcnow()
    return (
        dt.datetime.combine(days["start"], dt.time(), tzinfo=dt.UTC),
        dt.datetime.combine(days["end"] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC),
    )


@router.post("/reports/run")
async def reports_run(request: Request, session: DbSession, state: State, who: Admin) -> Response:
    """Run a report now over the chosen range (errors are shown beside their fields)."""
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(who, str(form.get("csrf", "")))
    typed = {key: str(form.get(key, ""))[:32] for key in ("report", "start", "end", "deliver")}
    errors: dict[str, str] = {}
    if typed["report"] not in runner.REPORTS:
        errors["report"] = "choose one of the reports"
    window = _window(typed["start"], typed["end"], errors)
    if errors:
        return _page(request, session, state, who, status=422, errors=errors, typed=typed)
    run = await run_in_threadpool(
        runner.run_report,
        state.sessions,
        state.settings,
        name=typed["report"],
        trigger="manual",
        deliver=typed["deliver"] == "on",
        window=window,
    )
    assert run is not None  # manual periods are unique
    return see_other(f"/reports?ran={run.id}")
