"""Run one report for one period: claim it, gather, render, store the files, deliver, and
record the outcome in report_runs. Safe to call from several replicas at once."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import reports
from collector.store.reports import ReportRun
from server.config import ServerSettings
from server.errors import DeliveryFailed
from server.management_review.service import record_measurements
from server.reports import delivery, render
from server.reports.figures import gather

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportDefinition:
    name: str
    title: str
    window: dt.timedelta


REPORTS = {
    "weekly": ReportDefinition(
        name="weekly", title="Weekly AI discovery report", window=dt.timedelta(days=7)
    ),
}


def scheduled_period(
    definition: ReportDefinition, now: dt.datetime
) -> tuple[str, dt.datetime, dt.datetime]:
    """Return (label, start, end) of the last whole week before ``now`` (weeks start Monday
    00:00 UTC); the label is the ISO week, e.g. "2026-W47"."""
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = today - dt.timedelta(days=today.weekday())
    start = end - definition.window
    year, week, _day = start.isocalendar()
    return f"{year}-W{week:02d}", start, end


def manual_period(
    definition: ReportDefinition, now: dt.datetime
) -> tuple[str, dt.datetime, dt.datetime]:
    """Return a unique period for an on-demand run covering the window up to ``now``."""
    return (
        f"manual-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        now - definition.window,
        now,
    )


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _files_dir(settings: ServerSettings, run_id: int) -> Path:
    return settings.data_dir / "reports" / str(run_id)


def report_file(settings: ServerSettings, run: ReportRun, fmt: str) -> Path | None:
    """Return the stored file of one format of a run, if it exists."""
    for output in run.outputs:
        if output.get("format") == fmt:
            path = _files_dir(settings, run.id) / str(output["filename"])
            return path if path.is_file() else None
    return None


def run_report(
    sessions: sessionmaker[Session],
    settings: ServerSettings,
    *,
    name: str,
    trigger: str,
    deliver: bool,
    now: dt.datetime | None = None,
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> ReportRun | None:
    """Run report ``name``; return its run, or None when another replica has this period.

    A manual run covers ``window`` (start, end) when given, else the report's window up to now.

    Raises KeyError for an unknown report name. Rendering errors mark the run failed and
    are re-raised; delivery errors are recorded per channel and do not fail the run.
    """
    definition = REPORTS[name]
    moment = now or dt.datetime.now(dt.UTC)
    if trigger == "schedule":
        period, start, end = scheduled_period(definition, moment)
    else:
        period, start, end = manual_period(definition, moment)
        if window is not None:
            start, end = window
    with transaction(sessions) as session:
        run = reports.claim_report_run(
            session, report=name, period=period, trigger=trigger, claimed_by=instance_name()
        )
        if run is None:
            log.info("report %s for %s is already claimed; skipping", name, period)
            return None
        run_id = run.id
    try:
        with transaction(sessions) as session:
            figures = gather(
                session,
                title=f"{definition.title}, {period}"
                if trigger == "schedule"
                else definition.title,
                start=start,
                end=end,
                stale_after=dt.timedelta(minutes=settings.stale_after_minutes),
            )
            if trigger == "schedule":
                # Each scheduled period also keeps a point of every AIMS objective's trend
                # (claimed above, so once per period however many replicas fire).
                record_measurements(session, actor="scheduler", now=moment)
        directory = _files_dir(settings, run_id)
        directory.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        outputs: list[dict[str, Any]] = []
        contents: dict[str, bytes] = {}
        for fmt in render.FORMATS:
            content = render.render(figures, fmt)
            filename = f"shadowmap-{name}-{end:%Y-%m-%d}.{fmt}"
            (directory / filename).write_bytes(content)
            files[filename] = directory / filename
            contents[fmt] = content
            outputs.append({"format": fmt, "filename": filename, "bytes": len(content)})
        summary: dict[str, Any] = {
            "headline": figures.headline(),
            "board_summary": figures.summary,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
    except Exception as exc:
        with transaction(sessions) as session:
            reports.finish_report_run(
                session,
                run_id=run_id,
                status="failed",
                summary={},
                outputs=[],
                deliveries=[],
                error=f"{type(exc).__name__}: {exc}",
            )
        raise
    deliveries = (
        _deliver(
            settings,
            name=name,
            run_id=run_id,
            period=period,
            figures_summary=summary,
            files=files,
            contents=contents,
            title=figures.title,
        )
        if deliver
        else []
    )
    with transaction(sessions) as session:
        return reports.finish_report_run(
            session,
            run_id=run_id,
            status="done",
            summary=summary,
            outputs=outputs,
            deliveries=deliveries,
        )


def _deliver(
    settings: ServerSettings,
    *,
    name: str,
    run_id: int,
    period: str,
    title: str,
    figures_summary: dict[str, Any],
    files: dict[str, Path],
    contents: dict[str, bytes],
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []

    def record(channel: str, action: Any) -> None:
        try:
            detail = action()
            results.append({"channel": channel, "ok": True, "detail": detail})
        except DeliveryFailed as exc:
            log.warning("report %s run %s: %s", name, run_id, exc)
            results.append({"channel": channel, "ok": False, "detail": exc.reason})

    if settings.report_email_to:
        attachments = {
            filename: (filename.rsplit(".", 1)[1], contents[filename.rsplit(".", 1)[1]])
            for filename in files
            if not filename.endswith(".html")
        }
        record(
            "email",
            lambda: delivery.email_report(
                settings,
                subject=title,
                summary=list(figures_summary["board_summary"]),
                html=contents["html"].decode(),
                attachments=attachments,
            ),
        )
    if settings.report_folder is not None:
        folder = settings.report_folder
        record("folder", lambda: delivery.copy_to_folder(folder, files))
    if settings.report_webhook_url:
        url = settings.report_webhook_url
        payload = {
            "type": "report.completed",
            "report": name,
            "run_id": run_id,
            "period": period,
            **figures_summary,
        }
        record("webhook", lambda: delivery.notify_webhook(settings, url=url, payload=payload))
    return results
