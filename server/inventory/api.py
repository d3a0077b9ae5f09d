"""The draft inventory as JSON: items with their roll-ups, one item's detail (trend,
violations) and the raw sightings behind it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from collector.store import inventory
from server.inventory.evidence import user_display
from server.web.api_auth import AUTH_RESPONSES, InventoryReader
from server.web.deps import DbSession, RowId, State

router = APIRouter(prefix="/api/v1", tags=["inventory"])


class InventoryItemOut(BaseModel):
    id: int
    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str
    state: str
    governed_status: str = Field(
        description="What the AI register decided (under_review, approved, restricted, "
        "prohibited, review_due, suspended, retired), from the entry the item is linked to; "
        "empty when it is linked to none"
    )
    host_count: int
    user_count: int
    sighting_count: int
    evidence_kinds: list[str]
    browsers: list[str]
    departments: list[str]
    profile_accounts: list[str] = Field(
        description="Classes of the browser profiles it was seen in: personal (a public mail "
        "account), other (another organisation's), corporate, none (not signed in)."
    )
    violation_count: int
    last_violation_at: dt.datetime | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    severity: str = Field(
        description="malicious when the collector's catalogue carries a published report on "
        "the service, else normal"
    )


class ItemSightingOut(BaseModel):
    host_id: int
    hostname: str
    kind: str
    indicator: str
    indicator_kind: str
    user: str = Field(description="As reported, or a keyed pseudonym (user_pseudonym_key).")
    confidence: str
    heuristic: str | None
    profile_account: str = Field(
        description="For a browser extension: the class of its profile's signed-in account "
        "(personal, other, corporate, none), else empty."
    )
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class TrendPoint(BaseModel):
    day: dt.date
    hosts: int


class ViolationOut(BaseModel):
    host_id: int
    hostname: str
    user: str
    channel: str = Field(description="The evidence kind it was seen through")
    reason: str = Field(description="prohibited, or outside_conditions (a department not allowed)")
    department: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class MaliciousReportOut(BaseModel):
    report: str = Field(description="URL of the published report")
    reported_on: dt.date | None
    summary: str


class InventoryItemDetailOut(InventoryItemOut):
    trend: list[TrendPoint]
    violations: list[ViolationOut]
    malicious_report: MaliciousReportOut | None = None


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
        "governed_status": row.item.governed_status,
        "host_count": row.host_count,
        "user_count": row.user_count,
        "sighting_count": row.sighting_count,
        "evidence_kinds": list(row.evidence_kinds),
        "browsers": list(row.browsers),
        "departments": list(row.departments),
        "profile_accounts": list(row.profile_accounts),
        "violation_count": row.violation_count,
        "last_violation_at": row.item.last_violation_at,
        "first_seen_at": row.item.first_seen_at,
        "last_seen_at": row.item.last_seen_at,
        "severity": row.item.severity,
    }


@router.get("/inventory", response_model=list[InventoryItemOut], responses=AUTH_RESPONSES)
def list_inventory(
    session: DbSession,
    _who: InventoryReader,
    response: Response,
    state: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[InventoryItemOut]:
    """List draft inventory items with their roll-ups, newest first; the X-Total-Count header
    says how many items match, so that a client knows when a page is not the whole list."""
    rows = inventory.list_inventory(session, state=state, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(inventory.count_inventory(session, state=state))
    return [_item_out(row) for row in rows]


@router.get(
    "/inventory/{item_id}",
    response_model=InventoryItemDetailOut,
    responses={**AUTH_RESPONSES, 404: {"description": "No such item"}},
)
def get_inventory_item(
    session: DbSession,
    state: State,
    _who: InventoryReader,
    item_id: RowId,
    days: Annotated[int, Query(ge=1, le=90)] = 90,
) -> InventoryItemDetailOut:
    """Return one item with its roll-ups, its daily host trend, its violations and, for a
    malicious item, the published report."""
    row = inventory.get_inventory_row(session, item_id=item_id)
    show_user = user_display(state.settings.user_pseudonym_key)
    service = state.catalogue.get(row.item.service_id) if row.item.service_id else None
    report = service.malicious if service is not None else None
    return InventoryItemDetailOut(
        malicious_report=MaliciousReportOut(
            report=report.report, reported_on=report.reported_on, summary=report.summary
        )
        if report is not None and row.item.severity == inventory.MALICIOUS
        else None,
        **_item_fields(row),
        trend=[
            TrendPoint(day=day, hosts=hosts)
            for day, hosts in inventory.list_item_trend(session, item_id=item_id, days=days)
        ],
        violations=[
            ViolationOut(
                host_id=host.id,
                hostname=host.hostname,
                user=show_user(violation.user_name) if violation.user_name else "",
                channel=violation.channel,
                reason=violation.reason,
                department=violation.department,
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
    response: Response,
    item_id: RowId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[ItemSightingOut]:
    """The raw sightings behind one item (host, evidence kind, indicator, user), newest first;
    the X-Total-Count header says how many are stored (the widest items have one per host)."""
    inventory.get_inventory_item(session, item_id=item_id)
    response.headers["X-Total-Count"] = str(
        inventory.count_item_sightings(session, item_id=item_id)
    )
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
            profile_account=sighting.profile_account,
            first_seen_at=sighting.first_seen_at,
            last_seen_at=sighting.last_seen_at,
        )
        for sighting, host in inventory.list_sightings(
            session, item_id=item_id, limit=limit, offset=offset
        )
    ]
