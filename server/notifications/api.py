"""Email subscriptions to events (admins or tokens with webhooks:admin), and the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from collector.store import notifications
from server.notifications.service import ADDRESS_PATTERN, subscribe
from server.web.api_auth import AUTH_RESPONSES, WebhooksAdmin
from server.web.deps import DbSession, RowId
from server.webhooks.api import EventPattern
from server.webhooks.service import EVENT_TYPES

router = APIRouter(prefix="/api/v1/notifications", tags=["webhooks"])


class SubscriptionCreate(BaseModel):
    address: Annotated[str, Field(min_length=3, max_length=254, pattern=ADDRESS_PATTERN)]
    event_types: Annotated[list[EventPattern], Field(min_length=1, max_length=20)]


class SubscriptionOut(BaseModel):
    id: int
    address: str
    event_types: list[str]
    created_by: str
    created_at: dt.datetime


class EmailOut(BaseModel):
    id: int
    event_type: str
    to_address: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


@router.get("/subscriptions", response_model=list[SubscriptionOut], responses=AUTH_RESPONSES)
def list_subscriptions(session: DbSession, _caller: WebhooksAdmin) -> list[SubscriptionOut]:
    """List the addresses that receive an email per event of the types they name."""
    return [
        SubscriptionOut.model_validate(row, from_attributes=True)
        for row in notifications.list_subscriptions(session)
    ]


@router.post(
    "/subscriptions",
    response_model=SubscriptionOut,
    status_code=201,
    responses={**AUTH_RESPONSES, 409: {"description": "The address is already subscribed"}},
)
def create_subscription(
    body: SubscriptionCreate, session: DbSession, caller: WebhooksAdmin
) -> SubscriptionOut:
    """Subscribe an address to event types (e.g. inventory.item.violation_detected)."""
    created = subscribe(
        session,
        actor=caller.actor,
        address=body.address,
        event_types=list(body.event_types),
        known_types=EVENT_TYPES,
    )
    return SubscriptionOut.model_validate(created, from_attributes=True)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    responses={**AUTH_RESPONSES, 404: {"description": "No such subscription"}},
)
def delete_subscription(
    subscription_id: RowId, session: DbSession, _caller: WebhooksAdmin
) -> Response:
    """Remove a subscription."""
    notifications.delete_subscription(session, subscription_id=subscription_id)
    return Response(status_code=204)


@router.get("/emails", response_model=list[EmailOut], responses=AUTH_RESPONSES)
def list_emails(session: DbSession, _caller: WebhooksAdmin) -> list[EmailOut]:
    """The email outbox, newest first: what was sent, what waits, what failed."""
    return [
        EmailOut.model_validate(row, from_attributes=True)
        for row in notifications.list_emails(session)
    ]
