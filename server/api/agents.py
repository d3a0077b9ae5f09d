"""Agent-facing endpoints: enrollment and report ingest."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from collector import store
from collector.errors import ReportRejected
from collector.ingest import IngestResult, ingest_report, parse_agent_report
from server.deps import CallingAgent, DbSession, State

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])

Text = Annotated[str, Field(max_length=255)]


class HostBody(BaseModel):
    hostname: Annotated[str, Field(min_length=1, max_length=255)]
    os: Literal["linux", "darwin", "windows", "other"]
    os_version: Text = ""
    arch: Annotated[str, Field(max_length=64)] = ""


class EnrollBody(BaseModel):
    token: Annotated[str, Field(min_length=8, max_length=128)]
    agent_id: Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
    host: HostBody


class EnrollResponse(BaseModel):
    agent_id: str
    credential: str = Field(description="The agent's own secret; shown once, stored hashed.")


class IngestResponse(BaseModel):
    report_id: str
    status: Literal["stored", "duplicate"]
    findings: int
    items: int


@router.post("/enroll", response_model=EnrollResponse)
def enroll(body: EnrollBody, session: DbSession) -> EnrollResponse:
    """Exchange an enrollment token for this agent's own credential."""
    agent, credential = store.enroll_agent(
        session,
        enrollment_secret=body.token,
        agent_uid=body.agent_id,
        hostname=body.host.hostname,
        os=body.host.os,
        os_version=body.host.os_version,
        arch=body.host.arch,
    )
    return EnrollResponse(agent_id=agent.agent_uid, credential=credential)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ReportRejected(f"report exceeds {limit} bytes", too_large=True)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ReportRejected(f"report exceeds {limit} bytes", too_large=True)
    return bytes(body)


@router.post("/reports", response_model=IngestResponse)
async def post_report(
    request: Request, agent: CallingAgent, session: DbSession, state: State
) -> IngestResponse:
    """Ingest one report; a report id already stored is acknowledged and not counted again."""
    body = await _read_limited(request, state.settings.max_report_bytes)

    def work() -> IngestResult:
        report = parse_agent_report(body)
        if report.host.os != agent.host.os and agent.host.os not in ("", "other"):
            raise ReportRejected("report host OS differs from the enrolled host", path="host.os")
        return ingest_report(session, agent=agent, report=report, catalogue=state.catalogue)

    result = await run_in_threadpool(work)
    return IngestResponse(
        report_id=result.report_id,
        status="duplicate" if result.duplicate else "stored",
        findings=result.findings,
        items=result.items,
    )
