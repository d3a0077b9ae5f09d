"""Agent-facing endpoints: enrollment, report ingest, catalogue bundles and agent updates."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from collector.errors import NotFound, ReportRejected
from collector.store import agents
from collector.store.agents import Agent
from server.agents import service, updates
from server.agents.bundles import newest_bundle
from server.web.api_auth import AUTH_RESPONSES, ApiAdmin, HostsReader
from server.web.deps import CallingAgent, DbSession, RowId, State, bearer_credential

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])

Text = Annotated[str, Field(max_length=255)]
# The agent's machine fingerprint (agent/identity.py); optional for older agents.
MachineHeader = Annotated[
    str | None,
    Header(alias="X-Shadowmap-Machine", min_length=16, max_length=64, pattern=r"^[0-9a-f]+$"),
]


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


class LimitOut(BaseModel):
    limit: Literal["new_items_per_report", "new_items_per_agent_hour"] = Field(
        description="The setting reached: ingest_max_<limit>."
    )
    maximum: int
    deferred_items: int = Field(description="New items this report named but did not create.")
    deferred_findings: int = Field(
        description="Findings not stored (the agent's next full report sends them again)."
    )


class IngestResponse(BaseModel):
    report_id: str
    status: Literal["stored", "duplicate"]
    findings: int = Field(description="Findings stored.")
    items: int = Field(description="Inventory items the stored findings belong to.")
    limited: list[LimitOut] = Field(
        default_factory=list, description="Limits this report reached, and what they deferred."
    )


def _optional_bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    return None if header is None else bearer_credential(request)


@router.post(
    "/enroll",
    response_model=EnrollResponse,
    responses={
        401: {"description": "Unknown enrollment token"},
        403: {
            "description": "Enrollment refused: the token is expired, used up or revoked, or "
            "the agent id is enrolled and neither its current credential nor an admin's "
            "approval came with the request"
        },
        409: {"description": "The agent id is bound to another machine (rekey)"},
    },
)
def enroll(
    body: EnrollBody, request: Request, session: DbSession, machine: MachineHeader = None
) -> EnrollResponse:
    """Exchange an enrollment token for this agent's own credential.

    An agent id already enrolled enrolls again only with proof: its current credential in
    ``Authorization: Bearer``, or an admin's approval. An agent id already bound to another
    machine is refused with 409 (rekey).
    """
    agent, credential = service.enroll(
        session,
        enrollment_secret=body.token,
        agent_uid=body.agent_id,
        hostname=body.host.hostname,
        os=body.host.os,
        os_version=body.host.os_version,
        arch=body.host.arch,
        machine=machine,
        current_credential=_optional_bearer(request),
    )
    return EnrollResponse(agent_id=agent.agent_uid, credential=credential)


def _check_media_type(request: Request) -> None:
    """Refuse a body announced as anything but JSON in UTF-8 (no Content-Type is taken for
    JSON, as older agents send); raises ReportRejected (415)."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media_type, _, parameters = declared.partition(";")
    charset = ""
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media_type.strip().lower() != "application/json" or charset not in ("", "utf-8"):
        raise ReportRejected(
            f"a report is sent as application/json in UTF-8, not {declared[:80]!r}",
            media_type=True,
        )


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


@router.post(
    "/reports",
    response_model=IngestResponse,
    responses={
        401: {"description": "No valid agent credential"},
        409: {"description": "The agent id is bound to another machine (rekey)"},
        413: {"description": "The report is larger than max_report_bytes"},
        415: {"description": "The body is not application/json in UTF-8"},
        422: {"description": "The report is not valid (the offending field is named)"},
    },
)
async def post_report(
    request: Request, state: State, machine: MachineHeader = None
) -> IngestResponse:
    """Ingest one report; a report id already stored is acknowledged and not counted again.

    One report per request (no batch endpoint): a report is one transaction, a retry is
    cheap because it is recognised by its id, and a heartbeat touches only the host row.
    """
    credential = bearer_credential(request)
    _check_media_type(request)
    body = await _read_limited(request, state.settings.max_report_bytes)
    result = await to_thread.run_sync(
        partial(
            service.ingest_agent_report,
            state.sessions,
            state.catalogue,
            credential=credential,
            body=body,
            machine=machine,
            limits=service.ingest_limits(state.settings),
        ),
        limiter=state.ingest_slots(),
    )
    return IngestResponse(
        report_id=result.report_id,
        status="duplicate" if result.duplicate else "stored",
        findings=result.findings,
        items=result.items,
        limited=[LimitOut.model_validate(hit.to_dict()) for hit in result.limited],
    )


class AgentConfigResponse(BaseModel):
    organisation_domains: list[str] = Field(
        description="The organisation's mail domains: a browser profile signed in with one of "
        "them is corporate."
    )


@router.get("/config", response_model=AgentConfigResponse)
def get_agent_config(agent: CallingAgent, state: State) -> AgentConfigResponse:
    """Return what the collector pushes to its agents; the agent caches it."""
    return AgentConfigResponse(**service.agent_config(state.settings))


@router.get(
    "/signatures",
    responses={200: {"content": {"application/json": {}}}, 304: {}, 404: {}},
)
def get_signatures(request: Request, agent: CallingAgent, state: State) -> Response:
    """Return the newest signed catalogue bundle; the agent verifies it before use."""
    bundle = newest_bundle(state.settings.resolved_bundle_dir())
    if bundle is None:
        raise NotFound("signature bundle", "newest")
    etag = f'"{bundle.sha256}"'
    headers = {"ETag": etag, "X-Bundle-Version": str(bundle.version), "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(bundle.data, media_type="application/json", headers=headers)


Platform = Annotated[str, Query(min_length=3, max_length=64, pattern=r"^[a-z]+-[a-z0-9_]+$")]
Version = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9][A-Za-z0-9.+-]*$")]
Tags = Annotated[str, Query(max_length=1000, pattern=r"^[a-z0-9._,-]*$")]


class UpdateOfferResponse(BaseModel):
    version: str
    release_id: int = Field(description="The release, as named in package_url.")
    manifest: str = Field(description="The signed release manifest; the agent verifies it.")
    package_url: str = Field(description="Where to download the package (same credential).")


@router.get("/update", response_model=UpdateOfferResponse, responses={204: {}})
def get_update(
    agent: CallingAgent, session: DbSession, platform: Platform, version: Version, tags: Tags = ""
) -> UpdateOfferResponse | Response:
    """Offer the newest signed release this agent is in the rollout of (204: none now)."""
    offer = updates.offer_for(
        session,
        agent=agent,
        platform=platform,
        running=version,
        tags={tag for tag in tags.split(",") if tag},
    )
    if offer is None:
        return Response(status_code=204)
    return UpdateOfferResponse(
        version=offer.release.version,
        release_id=offer.release.id,
        manifest=offer.manifest,
        package_url=f"/api/v1/agents/update/package/{offer.release.id}",
    )


@router.get(
    "/update/package/{release_id}",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}},
)
def get_update_package(agent: CallingAgent, session: DbSession, release_id: RowId) -> Response:
    """Return the package of a release offered to this agent."""
    path = updates.package_for(session, agent=agent, release_id=release_id)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotFound("agent release package", str(release_id)) from exc
    return Response(data, media_type="application/octet-stream")


class UpdateOutcomeBody(BaseModel):
    platform: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z]+-[a-z0-9_]+$")]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    state: Literal["refused", "rolled-back"]
    detail: Annotated[str, Field(max_length=500)] = ""


@router.post("/update/outcome", status_code=204)
def post_update_outcome(
    body: UpdateOutcomeBody, agent: CallingAgent, session: DbSession
) -> Response:
    """Record that this agent refused a release or rolled it back (which halts its rollout)."""
    updates.record_outcome(
        session,
        agent=agent,
        platform=body.platform,
        version=body.version,
        state=body.state,
        detail=body.detail,
    )
    return Response(status_code=204)


# Administration of enrolled agents ------------------------------------------------------------


class AgentOut(BaseModel):
    id: int
    agent_id: str
    host_id: int
    hostname: str
    enrolled_at: dt.datetime
    last_seen_at: dt.datetime | None
    revoked_at: dt.datetime | None
    reenroll_approved_until: dt.datetime | None = Field(
        description="Until then the agent id may enroll again once without its credential."
    )

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            id=agent.id,
            agent_id=agent.agent_uid,
            host_id=agent.host_id,
            hostname=agent.host.hostname,
            enrolled_at=agent.enrolled_at,
            last_seen_at=agent.last_seen_at,
            revoked_at=agent.revoked_at,
            reenroll_approved_until=agent.reenroll_approved_until,
        )


_NO_AGENT = {**AUTH_RESPONSES, 404: {"description": "No such agent"}}


@router.get("", response_model=list[AgentOut], responses=AUTH_RESPONSES)
def list_agents(session: DbSession, _who: HostsReader) -> list[AgentOut]:
    """List enrolled agents (and the stand-ins of imported logs), revoked ones included."""
    return [AgentOut.of(agent) for agent in agents.list_agents(session)]


@router.get("/{agent_number}", response_model=AgentOut, responses=_NO_AGENT)
def get_agent(agent_number: RowId, session: DbSession, _who: HostsReader) -> AgentOut:
    """Return one agent by its row id."""
    return AgentOut.of(agents.get_agent(session, agent_id=agent_number))


@router.post("/{agent_number}/revoke", response_model=AgentOut, responses=_NO_AGENT)
def revoke_agent(agent_number: RowId, session: DbSession, caller: ApiAdmin) -> AgentOut:
    """Revoke one agent's credential: its reports get 401, and it cannot enroll again under
    its id until an admin approves (audited)."""
    return AgentOut.of(service.revoke_agent(session, actor=caller.actor, agent_id=agent_number))


@router.post("/{agent_number}/approve-reenrollment", response_model=AgentOut, responses=_NO_AGENT)
def approve_reenrollment(agent_number: RowId, session: DbSession, caller: ApiAdmin) -> AgentOut:
    """Let the agent id enroll again once, within a week, without its current credential
    (audited)."""
    return AgentOut.of(
        service.approve_reenrollment(session, actor=caller.actor, agent_id=agent_number)
    )
