"""Read the draft inventory and hosts as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from collector import store
from server.api_auth import HostsReader, InventoryReader
from server.deps import DbSession, State

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
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class HostOut(BaseModel):
    id: int
    hostname: str
    os: str
    os_version: str
    agent_version: str
    catalogue_version: str
    last_report_at: dt.datetime | None
    stale: bool
    item_count: int


@router.get("/inventory", response_model=list[InventoryItemOut])
def list_inventory(
    session: DbSession,
    _who: InventoryReader,
    state: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[InventoryItemOut]:
    """List draft inventory items with their roll-ups."""
    return [
        InventoryItemOut(
            id=row.item.id,
            key=row.item.key,
            service_id=row.item.service_id,
            name=row.item.name,
            vendor=row.item.vendor,
            category=row.item.category,
            state=row.item.state,
            host_count=row.host_count,
            user_count=row.user_count,
            sighting_count=row.sighting_count,
            evidence_kinds=list(row.evidence_kinds),
            first_seen_at=row.item.first_seen_at,
            last_seen_at=row.item.last_seen_at,
        )
        for row in store.list_inventory(session, state=state, limit=limit, offset=offset)
    ]


@router.get("/hosts", response_model=list[HostOut])
def list_hosts(session: DbSession, state: State, _who: HostsReader) -> list[HostOut]:
    """List hosts, with stale ones flagged so that "no data" is never read as "no AI"."""
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    return [
        HostOut(
            id=row.host.id,
            hostname=row.host.hostname,
            os=row.host.os,
            os_version=row.host.os_version,
            agent_version=row.host.agent_version,
            catalogue_version=row.host.catalogue_version,
            last_report_at=row.host.last_report_at,
            stale=row.stale,
            item_count=row.item_count,
        )
        for row in store.list_hosts(session, stale_after=stale_after)
    ]
