"""Incremental sync for a main register or GRC tool, as JSON: the inventory's and the AI
register's change feeds, each paged by an opaque cursor of its own, with ETags. Both feeds
share one reader (server.sync.service.read_feed); only the state each change carries differs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from collector.store import assessments, incidents
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from server.approvals.service import route_progress
from server.register.schemas import RegisterEntryOut, entry_out
from server.sync.service import INVENTORY_FEED, REGISTER_FEED, cursor_pattern, read_feed
from server.web.api_auth import AUTH_RESPONSES, InventoryReader, RegisterReader
from server.web.deps import DbSession
from server.web.etags import NOT_MODIFIED, json_with_etag

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    **NOT_MODIFIED,
    400: {"description": "Malformed cursor"},
}


class InventoryItemState(BaseModel):
    id: int
    key: str
    service_id: str | None
    name: str
    vendor: str
    category: str
    state: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, item: InventoryItem) -> InventoryItemState:
        return cls(
            id=item.id,
            key=item.key,
            service_id=item.service_id,
            name=item.name,
            vendor=item.vendor,
            category=item.category,
            state=item.state,
            first_seen_at=item.first_seen_at,
            last_seen_at=item.last_seen_at,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class InventoryChange(BaseModel):
    change_seq: int = Field(description="Position in the feed; increases in commit order.")
    id: int
    change: str = Field(description="created, updated or deleted (relative to the cursor)")
    changed_at: dt.datetime
    item: InventoryItemState | None = Field(description="The newest state; null once deleted.")


class InventorySyncPage(BaseModel):
    feed: str
    changes: list[InventoryChange]
    next_cursor: str = Field(description="Pass back as `cursor`; store it to resume later.")
    has_more: bool


@router.get("/inventory", response_model=InventorySyncPage, responses=_SYNC_RESPONSES)
def sync_inventory(
    request: Request,
    session: DbSession,
    _caller: InventoryReader,
    cursor: Annotated[
        str | None,
        Query(
            pattern=cursor_pattern(INVENTORY_FEED),
            description="The next_cursor of the previous page.",
        ),
    ] = None,
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Return the inventory changes after ``cursor`` (or since ``updated_since``)."""
    feed = read_feed(
        session, entity=INVENTORY_FEED, cursor=cursor, updated_since=updated_since, limit=limit
    )
    page = InventorySyncPage(
        feed=INVENTORY_FEED,
        changes=[
            InventoryChange(
                change_seq=change.change_seq,
                id=change.entity_id,
                change=feed.kind(change, item),
                changed_at=change.changed_at,
                item=InventoryItemState.of(item) if feed.kind(change, item) != "deleted" else None,
            )
            for change, item in feed.rows
        ],
        next_cursor=feed.next_cursor,
        has_more=feed.has_more,
    )
    return json_with_etag(request, page)


class RouteStatus(BaseModel):
    route: str
    complete: bool
    missing_assessments: list[str]
    signed_by: list[str]
    waiting_for: list[str] = Field(description="Approvers whose sign-off is still missing")


class AssessmentRef(BaseModel):
    id: int
    kind: str
    status: str
    outcome: str


class IncidentRef(BaseModel):
    incident_id: str
    severity: str
    status: str


class EntryGovernance(BaseModel):
    """Where the entry stands in the AI management system (docs/aims.md)."""

    approval_routes: list[RouteStatus]
    assessments: list[AssessmentRef]
    incidents: list[IncidentRef]


def entry_governance(session: Session, entry: RegisterEntry) -> EntryGovernance:
    """Return the entry's approval routes, assessments and incidents as the feed shows them."""
    return EntryGovernance(
        approval_routes=[
            RouteStatus(
                route=progress.route.name,
                complete=progress.complete,
                missing_assessments=list(progress.missing_assessments),
                signed_by=[s.signoff.signed_by for s in progress.steps if s.signoff],
                waiting_for=[s.approver for s in progress.steps if s.signoff is None],
            )
            for progress in route_progress(session, entry=entry)
        ],
        assessments=[
            AssessmentRef(id=a.id, kind=a.kind, status=a.status, outcome=a.outcome)
            for a in assessments.list_assessments(session, register_id=entry.register_id)
        ],
        incidents=[
            IncidentRef(incident_id=i.incident_id, severity=i.severity, status=i.status)
            for i in incidents.list_incidents(session, register_id=entry.register_id)
        ],
    )


class RegisterChange(BaseModel):
    change_seq: int = Field(description="Position in the feed; increases in commit order.")
    id: int = Field(description="The entry's row id (its register_id is in `entry`).")
    change: str = Field(description="created, updated or deleted (relative to the cursor)")
    changed_at: dt.datetime
    entry: RegisterEntryOut | None = Field(description="The newest state; null once deleted.")
    governance: EntryGovernance | None = Field(
        None, description="Its approval routes, assessments and incidents; null once deleted."
    )


class RegisterSyncPage(BaseModel):
    feed: str
    changes: list[RegisterChange]
    next_cursor: str = Field(description="Pass back as `cursor`; store it to resume later.")
    has_more: bool


@router.get("/register", response_model=RegisterSyncPage, responses=_SYNC_RESPONSES)
def sync_register(
    request: Request,
    session: DbSession,
    _caller: RegisterReader,
    cursor: Annotated[
        str | None,
        Query(
            pattern=cursor_pattern(REGISTER_FEED),
            description="The next_cursor of the previous page.",
        ),
    ] = None,
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Return the register-entry changes after ``cursor`` (or since ``updated_since``)."""
    feed = read_feed(
        session, entity=REGISTER_FEED, cursor=cursor, updated_since=updated_since, limit=limit
    )
    page = RegisterSyncPage(
        feed=REGISTER_FEED,
        changes=[
            RegisterChange(
                change_seq=change.change_seq,
                id=change.entity_id,
                change=feed.kind(change, entry),
                changed_at=change.changed_at,
                entry=entry_out(entry) if feed.kind(change, entry) != "deleted" else None,
                governance=(
                    entry_governance(session, entry)
                    if entry is not None and feed.kind(change, entry) != "deleted"
                    else None
                ),
            )
            for change, entry in feed.rows
        ],
        next_cursor=feed.next_cursor,
        has_more=feed.has_more,
    )
    return json_with_etag(request, page)
