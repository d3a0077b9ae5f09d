"""Enroll agents and ingest what they, or imported DNS and proxy logs, report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.errors import ReportRejected
from collector.ingest import IngestLimits, IngestResult, ingest_report, parse_agent_report
from collector.logimport import ImportStats, ProgressCallback, read_log
from collector.store import agents
from collector.store.agents import Agent
from server.audit.service import record_change
from server.config import ServerSettings
from signatures import Catalogue, Matcher

log = logging.getLogger(__name__)


def ingest_limits(settings: ServerSettings) -> IngestLimits:
    """Return the limits on what one agent report may add (ingest_max_* settings)."""
    return IngestLimits(
        new_items_per_report=settings.ingest_max_new_items_per_report,
        new_items_per_agent_hour=settings.ingest_max_new_items_per_agent_hour,
    )


def enroll(
    session: Session,
    *,
    enrollment_secret: str,
    agent_uid: str,
    hostname: str,
    os: str,
    os_version: str,
    arch: str,
    machine: str | None,
    current_credential: str | None = None,
) -> tuple[Agent, str]:
    """Exchange an enrollment token for an agent and its own credential (shown once).

    A known agent id needs proof: ``current_credential``, or an admin's approval.
    Raises EnrollmentRefused (ReenrollmentRefused); Conflict when the agent id is bound to
    another machine.
    """
    agent, credential = agents.enroll_agent(
        session,
        enrollment_secret=enrollment_secret,
        agent_uid=agent_uid,
        hostname=hostname,
        os=os,
        os_version=os_version,
        arch=arch,
        current_credential=current_credential,
    )
    if machine is not None:
        agents.check_agent_machine(session, agent=agent, fingerprint=machine)
    return agent, credential


def _agent_snapshot(agent: Agent) -> dict[str, object]:
    return {
        "agent_id": agent.agent_uid,
        "host_id": agent.host_id,
        "revoked": agent.revoked_at is not None,
        "reenroll_approved": agent.reenroll_approved_until is not None,
    }


def revoke_agent(session: Session, *, actor: str, agent_id: int) -> Agent:
    """Revoke one agent's credential: its reports, and its re-enrollment without an admin's
    approval, are refused from now on (audited). Raises NotFound."""
    before = _agent_snapshot(agents.get_agent(session, agent_id=agent_id))
    agent = agents.revoke_agent(session, agent_id=agent_id)
    record_change(
        session,
        actor=actor,
        action="agent.revoke",
        object_type="agent",
        object_id=agent.id,
        before=before,
        after=_agent_snapshot(agent),
    )
    return agent


def approve_reenrollment(session: Session, *, actor: str, agent_id: int) -> Agent:
    """Let one agent id enroll again once without its current credential (a lost credential,
    or a revoked agent trusted again), within a week (audited). Raises NotFound."""
    before = _agent_snapshot(agents.get_agent(session, agent_id=agent_id))
    agent = agents.approve_reenrollment(session, agent_id=agent_id)
    record_change(
        session,
        actor=actor,
        action="agent.approve_reenrollment",
        object_type="agent",
        object_id=agent.id,
        before=before,
        after=_agent_snapshot(agent),
    )
    return agent


def agent_config(settings: ServerSettings) -> dict[str, list[str]]:
    """Return the settings every enrolled agent is told (GET /api/v1/agents/config)."""
    return {"organisation_domains": settings.organisation_domain_list()}


def ingest_agent_report(
    sessions: sessionmaker[Session],
    catalogue: Catalogue,
    *,
    credential: str,
    body: bytes,
    machine: str | None,
    limits: IngestLimits | None = None,
) -> IngestResult:
    """Authenticate the agent and ingest one report body, in one transaction; a limit it
    reaches is in the result and in a log line.

    Raises AuthenticationFailed, Conflict (a cloned machine: rekey), ReportRejected.
    """
    # One transaction, opened only once the body is in: a connection is never held while a
    # client uploads, and the request needs exactly one worker thread (no pool deadlock).
    with transaction(sessions) as session:
        agent = agents.authenticate_agent(session, credential=credential)
        if machine is not None:
            # An agent id bound to another machine (a cloned VM) is refused with 409: rekey.
            agents.check_agent_machine(session, agent=agent, fingerprint=machine)
        report = parse_agent_report(body)
        if report.host.os != agent.host.os and agent.host.os not in ("", "other"):
            raise ReportRejected("report host OS differs from the enrolled host", path="host.os")
        result = ingest_report(
            session, agent=agent, report=report, catalogue=catalogue, limits=limits
        )
        agent_uid = agent.agent_uid
        host_id = agent.host_id
    if result.refused_hostname is not None:
        log.warning(
            "agent %s reported host name %r, which another host has; host %d keeps its name",
            agent_uid,
            result.refused_hostname,
            host_id,
        )
    for hit in result.limited:
        log.warning(
            "ingest limit %s=%d reached by agent %s, report %s: %d new items, %d findings deferred",
            hit.limit,
            hit.maximum,
            agent_uid,
            result.report_id,
            hit.deferred_items,
            hit.deferred_findings,
        )
    return result


@dataclass(frozen=True, slots=True)
class LogIngest:
    """What importing one log stored: clients seen, AI findings ingested, the log's counters."""

    clients: int
    findings: int
    stats: ImportStats


def import_log(
    sessions: sessionmaker[Session],
    catalogue: Catalogue,
    *,
    path: Path,
    fmt: str,
    progress: ProgressCallback | None = None,
) -> LogIngest:
    """Match a DNS or proxy log against the catalogue and ingest it, one log source per client
    (in one transaction); return how many clients and AI findings it held."""
    imported = read_log(path, fmt, Matcher(catalogue), progress=progress)
    findings = 0
    with transaction(sessions) as session:
        for report in imported.reports:
            agent = agents.get_or_create_log_source(
                session,
                source_uid=f"{report.agent.id}:{report.host.hostname}",
                hostname=report.host.hostname,
            )
            findings += ingest_report(
                session, agent=agent, report=report, catalogue=catalogue
            ).findings
    return LogIngest(clients=len(imported.reports), findings=findings, stats=imported.stats)
