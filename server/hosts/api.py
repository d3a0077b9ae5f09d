"""Hosts as JSON: the list (paged, sorted and filtered as the hosts page is; stale ones flagged),
one host with what was found on it, and the department an admin sets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from collector.paging import MAX_PAGE_SIZE, PageRequest
from collector.store import hosts, inventory, limits, releases
from collector.store.hosts import Host
from server.fields import LINE
from server.inventory.evidence import user_display
from server.inventory.risk import risk_table
from server.web.api_auth import AUTH_RESPONSES, HostsReader
from server.web.deps import Admin, DbSession, RowId, State
from server.web.rendering import check_csrf

router = APIRouter(prefix="/api/v1", tags=["inventory"])


class HostOut(BaseModel):
    id: int
    hostname: str
    os: str
    os_version: str
    agent_version: str
    catalogue_version: str
    department: str
    last_report_at: dt.datetime | None
    stale: bool
    item_count: int


class HostListOut(HostOut):
    """A host as the list gives it: with its violations and its risk."""

    violation_count: int = Field(description="Sightings of prohibited or out-of-conditions use")
    risk: int | None = Field(
        description="The highest risk score (1-10) of the AI items it shows; null: none"
    )


class SightingOut(BaseModel):
    item_id: int
    item_name: str
    item_state: str
    item_governed_status: str
    kind: str
    indicator: str
    indicator_kind: str
    user: str = Field(description="As reported, or a keyed pseudonym (user_pseudonym_key).")
    confidence: str
    heuristic: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class HostViolationOut(BaseModel):
    """A forbidden item seen on the host: by whom, through which channel, and why forbidden."""

    item_id: int
    item_name: str
    user: str
    channel: str
    reason: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class IngestLimitOut(BaseModel):
    """An agent of the host reached an ingest limit: how often, and what its last hit deferred."""

    limited_reports: int
    last_limited_at: dt.datetime | None
    last_limited: dict[str, Any] = Field(
        description="report_id and limits: [{limit, maximum, deferred_items, deferred_findings}]"
    )


class AgentUpdateOut(BaseModel):
    """Where this host's agent stands with one signed agent release (`shadowmap agent-release`)."""

    version: str
    platform: str
    state: Literal["offered", "installed", "refused", "rolled-back"]
    detail: str
    release_state: Literal["rolling-out", "halted"]
    updated_at: dt.datetime


class HostDetailOut(HostOut):
    health: dict[str, object]
    scanner_errors: list[object]
    ingest_limits: list[IngestLimitOut] = Field(default_factory=list)
    agent_updates: list[AgentUpdateOut] = Field(default_factory=list)
    sightings: list[SightingOut]
    violations: list[HostViolationOut] = Field(default_factory=list)


class HostUpdate(BaseModel):
    department: Annotated[str, Field(max_length=128)]


def _host_fields(host: Host, *, item_count: int, stale: bool) -> dict[str, Any]:
    return {
        "id": host.id,
        "hostname": host.hostname,
        "os": host.os,
        "os_version": host.os_version,
        "agent_version": host.agent_version,
        "catalogue_version": host.catalogue_version,
        "department": host.department,
        "last_report_at": host.last_report_at,
        "stale": stale,
        "item_count": item_count,
    }


#: The sort keys of the list, as the hosts page names them (collector.store.hosts.HOST_SORTS).
HostSort = Literal[
    "hostname", "os", "department", "agent_version", "items", "violations", "first_seen",
    "last_report", "risk",
]  # fmt: skip
_PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "How many hosts match the filters, on every page",
        "required": True,
        "schema": {"type": "integer"},
    },
    "Link": {
        "description": 'The next page, as rel="next", when there is one (RFC 8288)',
        "schema": {"type": "string"},
    },
}


@router.get(
    "/hosts",
    response_model=list[HostListOut],
    responses={**AUTH_RESPONSES, 200: {"headers": _PAGE_HEADERS}},
)
def list_hosts(
    request: Request,
    response: Response,
    session: DbSession,
    state: State,
    _who: HostsReader,
    q: Annotated[
        str | None, Query(max_length=200, pattern=LINE, description="In the host name.")
    ] = None,
    stale: Annotated[
        bool | None, Query(description="Only hosts that stopped reporting (true) or not.")
    ] = None,
    os: Annotated[str | None, Query(max_length=64, pattern=LINE)] = None,
    department: Annotated[
        str | None,
        Query(max_length=128, pattern=LINE, description='"-": hosts without a department.'),
    ] = None,
    agent_version: Annotated[str | None, Query(max_length=64, pattern=LINE)] = None,
    has_violations: Annotated[
        bool | None, Query(description="Only hosts with violations (true) or without.")
    ] = None,
    sort: Annotated[HostSort, Query()] = "hostname",
    direction: Annotated[Literal["asc", "desc"], Query(alias="dir")] = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[HostListOut]:
    """List hosts a page at a time, with stale ones flagged so that "no data" is never read as
    "no AI". Filters combine; the X-Total-Count header says how many hosts match, and a Link
    header (rel="next") gives the next page when this one is not the last."""
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    found = hosts.page_hosts(
        session,
        filters=hosts.HostFilters(
            search=q or None,
            stale=stale,
            os=os or None,
            department=department or None,
            agent_version=agent_version or None,
            has_violations=has_violations,
        ),
        page=PageRequest(sort=sort, descending=direction == "desc", limit=limit, offset=offset),
        stale_after=stale_after,
        risk=inventory.host_risk(session, risk_table(state.catalogue)),
    )
    response.headers["X-Total-Count"] = str(found.total)
    if offset + len(found.rows) < found.total:
        following = {**request.query_params, "limit": str(limit), "offset": str(offset + limit)}
        response.headers["Link"] = f'<{request.url.path}?{urlencode(following)}>; rel="next"'
    return [
        HostListOut(
            **_host_fields(row.host, item_count=row.item_count, stale=row.stale),
            violation_count=row.violation_count,
            risk=row.risk,
        )
        for row in found.rows
    ]


def _host_detail(session: DbSession, state: State, host_id: int) -> HostDetailOut:
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    row = hosts.get_host_row(session, host_id=host_id, stale_after=stale_after)
    violations = inventory.list_violations(session, host_id=host_id)
    names = inventory.item_names(session, item_ids=[v.item_id for v, _h in violations])
    show_user = user_display(state.settings.user_pseudonym_key)
    return HostDetailOut(
        **_host_fields(row.host, item_count=row.item_count, stale=row.stale),
        health=dict(row.host.health),
        scanner_errors=list(row.host.scanner_errors),
        ingest_limits=[
            IngestLimitOut(
                limited_reports=quota.limited_reports,
                last_limited_at=quota.last_limited_at,
                last_limited=dict(quota.last_limited),
            )
            for quota in limits.list_host_limit_hits(session, host_id=host_id)
        ],
        agent_updates=[
            AgentUpdateOut(
                version=release.version,
                platform=release.platform,
                state=update.state,  # type: ignore[arg-type]
                detail=update.detail,
                release_state=release.state,  # type: ignore[arg-type]
                updated_at=update.updated_at,
            )
            for update, release in releases.list_host_update_states(session, host_id=host_id)
        ],
        sightings=[
            SightingOut(
                item_id=item.id,
                item_name=item.name,
                item_state=item.state,
                item_governed_status=item.governed_status,
                kind=sighting.kind,
                indicator=sighting.indicator,
                indicator_kind=sighting.indicator_kind,
                user=show_user(sighting.user_name) if sighting.user_name else "",
                confidence=sighting.confidence,
                heuristic=sighting.heuristic,
                first_seen_at=sighting.first_seen_at,
                last_seen_at=sighting.last_seen_at,
            )
            for sighting, item in inventory.list_host_sightings(session, host_id=host_id)
        ],
        violations=[
            HostViolationOut(
                item_id=violation.item_id,
                item_name=names.get(violation.item_id, ""),
                user=show_user(violation.user_name) if violation.user_name else "",
                channel=violation.channel,
                reason=violation.reason,
                first_seen_at=violation.first_seen_at,
                last_seen_at=violation.last_seen_at,
            )
            for violation, _host in violations
        ],
    )


@router.get(
    "/hosts/{host_id}",
    response_model=HostDetailOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such host"}},
)
def get_host(session: DbSession, state: State, _who: HostsReader, host_id: RowId) -> HostDetailOut:
    """Return one host with what was found on it."""
    return _host_detail(session, state, host_id)


@router.patch(
    "/hosts/{host_id}",
    response_model=HostDetailOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such host"}},
)
def update_host(
    session: DbSession,
    state: State,
    who: Admin,
    body: HostUpdate,
    host_id: RowId,
    csrf: Annotated[str, Header(alias="X-CSRF-Token", max_length=64)] = "",
) -> HostDetailOut:
    """Set a host's department (admins; the session's CSRF token in X-CSRF-Token)."""
    check_csrf(who, csrf)
    hosts.update_host(session, host_id=host_id, department=body.department)
    return _host_detail(session, state, host_id)
