"""The draft inventory and hosts as JSON: list, detail (sightings, trend, violations), and the
host department an admin sets."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from collector.store import hosts, inventory
from collector.store.hosts import Host
from server.api_auth import AUTH_RESPONSES, HostsReader, InventoryReader
from server.deps import Admin, DbSession, RowId, State
from server.register.evidence import user_display
from server.ui import check_csrf

router = APIRouter(prefix="/api/v1", tags=["inventory"])


class InventoryItemOut(BaseModel):
    id: int
    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str
    state: str
    host_count: int
    user_count: int
    sighting_count: int
    evidence_kinds: list[str]
    browsers: list[str]
    departments: list[str]
    violation_count: int
    last_violation_at: dt.datetime | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


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


class SightingOut(BaseModel):
    item_id: int
    item_name: str
    item_state: str
    kind: str
    indicator: str
    indicator_kind: str
    user: str
    confidence: str
    heuristic: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class ItemSightingOut(BaseModel):
    host_id: int
    hostname: str
    kind: str
    indicator: str
    indicator_kind: str
    user: str = Field(description="As reported, or a keyed pseudonym (user_pseudonym_key).")
    confidence: str
    heuristic: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class HostDetailOut(HostOut):
    health: dict[str, object]
    scanner_errors: list[object]
    sightings: list[SightingOut]


class HostUpdate(BaseModel):
    department: Annotated[str, Field(max_length=128)]


class TrendPoint(BaseModel):
    day: dt.date
    hosts: int


class ViolationOut(BaseModel):
    host_id: int
    hostname: str
    user: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class InventoryItemDetailOut(InventoryItemOut):
    trend: list[TrendPoint]
    violations: list[ViolationOut]


def _item_out(row: inventory.InventoryRow) -> InventoryItemOut:
    return InventoryItemOut(**_item_fields(row))


def _item_fields(row: inventory.InventoryRow) -> dict[str, Any]:
    return {
        "id": row.item.id,
        "key": row.item.key,
        "service_id": row.item.service_id,
        "name": row.item.name,
        "vendor": row.item.vendor,
        "category": row.item.category,
        "state": row.item.state,
        "host_count": row.host_count,
        "user_count": row.user_count,
        "sighting_count": row.sighting_count,
        "evidence_kinds": list(row.evidence_kinds),
        "browsers": list(row.browsers),
        "departments": list(row.departments),
        "violation_count": row.violation_count,
        "last_violation_at": row.item.last_violation_at,
        "first_seen_at": row.item.first_seen_at,
        "last_seen_at": row.item.last_seen_at,
    }


def _host_fields(row: hosts.HostRow) -> dict[str, Any]:
    host: Host = row.host
    return {
        "id": host.id,
        "hostname": host.hostname,
        "os": host.os,
        "os_version": host.os_version,
        "agent_version": host.agent_version,
        "catalogue_version": host.catalogue_version,
        "department": host.department,
        "last_report_at": host.last_report_at,
        "stale": row.stale,
        "item_count": row.item_count,
    }


@router.get("/inventory", response_model=list[InventoryItemOut], responses=AUTH_RESPONSES)
def list_inventory(
    session: DbSession,
    _who: InventoryReader,
    state: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[InventoryItemOut]:
    """List draft inventory items with their roll-ups."""
    rows = inventory.list_inventory(session, state=state, limit=limit, offset=offset)
    return [_item_out(row) for row in rows]


@router.get(
    "/inventory/{item_id}",
    response_model=InventoryItemDetailOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such item"}},
)
def get_inventory_item(
    session: DbSession,
    _who: InventoryReader,
    item_id: RowId,
    days: Annotated[int, Query(ge=1, le=90)] = 90,
) -> InventoryItemDetailOut:
    """Return one item with its roll-ups, its daily host trend and its violations."""
    row = inventory.get_inventory_row(session, item_id=item_id)
    return InventoryItemDetailOut(
        **_item_fields(row),
        trend=[
            TrendPoint(day=day, hosts=hosts)
            for day, hosts in inventory.list_item_trend(session, item_id=item_id, days=days)
        ],
        violations=[
            ViolationOut(
                host_id=host.id,
                hostname=host.hostname,
                user=violation.user_name,
                first_seen_at=violation.first_seen_at,
                last_seen_at=violation.last_seen_at,
            )
            for violation, host in inventory.list_violations(session, item_id=item_id)
        ],
    )


@router.get(
    "/inventory/{item_id}/sightings",
    response_model=list[ItemSightingOut],
    responses={**AUTH_RESPONSES, 404: {"description": "No such item"}},
)
def list_item_sightings(
    session: DbSession,
    state: State,
    _who: InventoryReader,
    item_id: RowId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ItemSightingOut]:
    """The raw sightings behind one item (host, evidence kind, indicator, user), newest first."""
    inventory.get_inventory_item(session, item_id=item_id)
    show_user = user_display(state.settings.user_pseudonym_key)
    return [
        ItemSightingOut(
            host_id=host.id,
            hostname=host.hostname,
            kind=sighting.kind,
            indicator=sighting.indicator,
            indicator_kind=sighting.indicator_kind,
            user=show_user(sighting.user_name) if sighting.user_name else "",
            confidence=sighting.confidence,
            heuristic=sighting.heuristic,
            first_seen_at=sighting.first_seen_at,
            last_seen_at=sighting.last_seen_at,
        )
        for sighting, host in inventory.list_sightings(
            session, item_id=item_id, limit=limit, offset=offset
        )
    ]


@router.get("/hosts", response_model=list[HostOut], responses=AUTH_RESPONSES)
def list_hosts(session: DbSession, state: State, _who: HostsReader) -> list[HostOut]:
    """List hosts, with stale ones flagged so that "no data" is never read as "no AI"."""
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    rows = hosts.list_hosts(session, stale_after=stale_after)
    return [HostOut(**_host_fields(row)) for row in rows]


def _host_detail(session: DbSession, state: State, host_id: int) -> HostDetailOut:
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    row = hosts.get_host_row(session, host_id=host_id, stale_after=stale_after)
    return HostDetailOut(
        **_host_fields(row),
        health=dict(row.host.health),
        scanner_errors=list(row.host.scanner_errors),
        sightings=[
            SightingOut(
                item_id=item.id,
                item_name=item.name,
                item_state=item.state,
                kind=sighting.kind,
                indicator=sighting.indicator,
                indicator_kind=sighting.indicator_kind,
                user=sighting.user_name,
                confidence=sighting.confidence,
                heuristic=sighting.heuristic,
                first_seen_at=sighting.first_seen_at,
                last_seen_at=sighting.last_seen_at,
            )
            for sighting, item in inventory.list_host_sightings(session, host_id=host_id)
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
