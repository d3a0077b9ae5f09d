"""Reviews and suppliers as JSON: GET /api/v1/reviews (due, overdue or triggered entries) and
GET /api/v1/suppliers (the register's suppliers joined with the inventory's vendors)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from collector.store.base import utcnow
from server.reviews.service import review_rows, supplier_summaries
from server.web.api_auth import AUTH_RESPONSES, RegisterAndInventoryReader, RegisterReader
from server.web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["register"])


class ReviewOut(BaseModel):
    register_id: str
    title: str
    status: str
    business_owner: str
    last_reviewed_on: dt.date | None
    next_review_on: dt.date | None
    days_until_review: int = Field(description="Negative when overdue.")
    overdue: bool
    reassessment_triggers: list[str] = Field(
        description="What discovery saw since the last review that suggests reassessing."
    )


@router.get("/reviews", response_model=list[ReviewOut], responses=AUTH_RESPONSES)
def list_reviews(
    session: DbSession,
    _who: RegisterReader,
    due_within_days: Annotated[int, Query(ge=0, le=366)] = 30,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or not.")] = None,
) -> list[ReviewOut]:
    """Governed entries whose review is due within ``due_within_days``, overdue, marked review
    due, or triggered by new discovery; soonest first."""
    rows = review_rows(session, today=utcnow().date(), due_within_days=due_within_days)
    return [
        ReviewOut(
            register_id=row.entry.register_id,
            title=row.entry.title,
            status=row.entry.status,
            business_owner=row.entry.business_owner,
            last_reviewed_on=row.entry.last_reviewed_on,
            next_review_on=row.entry.next_review_on,
            days_until_review=row.days,
            overdue=row.overdue,
            reassessment_triggers=list(row.triggers),
        )
        for row in rows
        if overdue is None or row.overdue == overdue
    ]


class SupplierOut(BaseModel):
    name: str
    supplier_review: str | None = Field(
        description="The weakest supplier review over its register entries; null if none."
    )
    register_entries: int
    register_ids: list[str]
    inventory_items: int = Field(description="Discovered inventory items with this vendor.")


@router.get("/suppliers", response_model=list[SupplierOut], responses=AUTH_RESPONSES)
def list_suppliers(session: DbSession, _who: RegisterAndInventoryReader) -> list[SupplierOut]:
    """Suppliers named by live register entries and vendors seen in the inventory, by name."""
    return [
        SupplierOut(
            name=summary.name,
            supplier_review=summary.supplier_review,
            register_entries=len(summary.register_ids),
            register_ids=summary.register_ids,
            inventory_items=summary.inventory_items,
        )
        for summary in supplier_summaries(session)
    ]
