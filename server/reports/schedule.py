"""The in-server scheduler (APScheduler 3): report jobs persisted in the database through
SQLAlchemyJobStore, so that a restart loses none, plus the webhook delivery poller and the SIEM
delivery round (server/siem/service.py) when a SIEM destination is set.

Exactly once with several replicas: every replica runs this scheduler on the shared job
store and may fire the same job, but a run first claims its (report, period) row
(collector.store.reports.claim_report_run), so only one replica renders and delivers a period.
A run missed while every server was down fires once at the next start (coalesced).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.config import ServerSettings
from server.errors import SettingsError
from server.reports.runner import REPORTS, run_report

log = logging.getLogger(__name__)

MISFIRE_GRACE = int(dt.timedelta(days=6).total_seconds())


@dataclass(slots=True)
class SchedulerRuntime:
    """What persisted jobs need at run time (jobs store only a function name and args)."""

    settings: ServerSettings
    sessions: sessionmaker[Session]


_runtime: SchedulerRuntime | None = None


def run_scheduled_report(name: str) -> None:
    """The persisted job: run report ``name`` for its current scheduled period."""
    if _runtime is None:
        log.error("scheduled report %s fired before the scheduler was set up", name)
        return
    try:
        run_report(
            _runtime.sessions, _runtime.settings, name=name, trigger="schedule", deliver=True
        )
    except Exception:  # the top of a job: log and keep the scheduler alive
        log.exception("scheduled report %s failed", name)


def report_trigger(settings: ServerSettings) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(settings.report_cron, timezone=dt.UTC)
    except ValueError as exc:
        raise SettingsError(f"invalid setting 'report_cron': {exc}") from exc


def start_scheduler(
    settings: ServerSettings, engine: Engine, sessions: sessionmaker[Session]
) -> BackgroundScheduler:
    """Start the scheduler with the report jobs (persisted) and the webhook poller."""
    global _runtime
    _runtime = SchedulerRuntime(settings=settings, sessions=sessions)
    trigger = report_trigger(settings)
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs"),
            "local": MemoryJobStore(),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        timezone=dt.UTC,
    )
    # Start paused so that a stored job keeps its (possibly missed) next run time: replacing
    # it unconditionally would silently skip a run missed while the server was down.
    scheduler.start(paused=True)
    for name in REPORTS:
        job_id = f"report:{name}"
        existing = scheduler.get_job(job_id)
        if existing is None or str(existing.trigger) != str(trigger):
            scheduler.add_job(
                run_scheduled_report,
                trigger,
                args=[name],
                id=job_id,
                name=f"{name} discovery report",
                replace_existing=True,
            )
    from server.webhooks.service import deliver_due

    scheduler.add_job(
        deliver_due,
        "interval",
        seconds=settings.webhook_poll_seconds,
        args=[settings, sessions],
        id="webhooks:deliver",
        jobstore="local",
        replace_existing=True,
    )
    from server.siem.service import destinations_from, run_round

    if destinations_from(settings):
        scheduler.add_job(
            run_round,
            "interval",
            seconds=settings.siem_poll_seconds,
            args=[settings, sessions],
            id="siem:deliver",
            jobstore="local",
            replace_existing=True,
        )
    scheduler.resume()
    return scheduler
