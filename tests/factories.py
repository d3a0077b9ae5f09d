"""Small factories with defaults, so a test names only what it is about."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from collector.store import agents
from collector.store.agents import Agent
from signatures import (
    AgentInfo,
    Confidence,
    Finding,
    FindingKind,
    HostInfo,
    Report,
    ScannerError,
)

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def finding(
    service_id: str | None = "openai-chatgpt",
    *,
    kind: FindingKind = FindingKind.PROCESS,
    indicator: str = "ChatGPT",
    indicator_kind: str = "process",
    user: str | None = "alice",
    seen: dt.datetime = T0,
    heuristic: str | None = None,
    evidence: dict[str, object] | None = None,
) -> Finding:
    return Finding(
        kind=kind,
        indicator=indicator,
        indicator_kind=indicator_kind,
        service_id=service_id,
        confidence=Confidence.HIGH if service_id else Confidence.LOW,
        heuristic=heuristic,
        user=user,
        evidence=evidence or {"pid": 42},  # type: ignore[arg-type]
        first_seen=seen,
        last_seen=seen,
    )


def report(
    findings: Sequence[Finding] = (),
    *,
    agent_id: str = "agent-0001",
    hostname: str = "laptop-1",
    os: str = "linux",
    report_id: str | None = None,
    errors: Sequence[ScannerError] = (),
) -> Report:
    return Report(
        report_id=report_id or str(uuid.uuid4()),
        agent=AgentInfo(id=agent_id, version="0.1.0", catalogue_version="test"),
        host=HostInfo(hostname=hostname, os=os, os_version="Debian 12", arch="x86_64"),
        generated_at=T0,
        findings=list(findings),
        scanner_errors=list(errors),
    )


def enrolled_agent(
    session: Session,
    *,
    agent_uid: str = "agent-0001",
    hostname: str = "laptop-1",
    os: str = "linux",
    current_credential: str | None = None,
) -> tuple[Agent, str]:
    _token, secret = agents.create_enrollment_token(
        session, name="test", expires_at=None, max_uses=None
    )
    return agents.enroll_agent(
        session,
        enrollment_secret=secret,
        agent_uid=agent_uid,
        hostname=hostname,
        os=os,
        current_credential=current_credential,
    )


@contextmanager
def sent_statements(db: Session) -> Iterator[list[str]]:
    """Collect the SQL text of every statement the session sends meanwhile (an executemany
    counts once)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)
