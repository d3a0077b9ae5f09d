"""Webhook endpoints and the delivery log (admins or tokens with webhooks:admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, Field

from collector.store import webhooks
from collector.store.webhooks import WebhookDelivery, WebhookEndpoint
from server.outbound.policy import DOCUMENTED_URL, check_url_syntax
from server.signing import key_hex
from server.web.api_auth import AUTH_RESPONSES, WebhooksAdmin
from server.web.deps import DbSession, RowId, State
from server.webhooks.service import create_endpoint, endpoint_key

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

EventPattern = Literal[
    "*",
    "inventory.*",
    "inventory.item.created",
    "inventory.item.updated",
    "inventory.item.deleted",
    "inventory.item.malicious_detected",
    "inventory.item.violation_detected",
    "register.*",
    "register.entry.created",
    "register.entry.updated",
    "register.entry.decided",
    "register.entry.status_changed",
]


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    event_types: list[str]
    active: bool
    created_at: dt.datetime
    pending: int = Field(0, description="Deliveries waiting to be sent or retried.")
    failed: int = Field(0, description="Deliveries given up after webhook_max_attempts.")
    dropped_events: int = Field(
        0,
        description="Events never queued because this endpoint's backlog of their type was "
        "full (webhook_max_pending); resynchronise through the sync API when it grows.",
    )
    last_dropped_at: dt.datetime | None = None

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, backlog: dict[str, int] | None = None) -> WebhookOut:
        counts = backlog or {}
        return cls(
            id=endpoint.id,
            name=endpoint.name,
            url=endpoint.url,
            event_types=list(endpoint.event_types),
            active=endpoint.active,
            created_at=endpoint.created_at,
            pending=counts.get("pending", 0),
            failed=counts.get("failed", 0),
            dropped_events=endpoint.dropped_events or 0,
            last_dropped_at=endpoint.last_dropped_at,
        )


class WebhookCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:@-]+$")]
    url: Annotated[
        str,
        Field(
            max_length=2048,
            description="http(s) URL that receives the events; its host must resolve to public "
            "addresses unless the outbound_allow setting names it (IPv6 literals in brackets "
            "are accepted too)",
            # Documented, not enforced: the validator below gives the clearer message.
            json_schema_extra={"pattern": DOCUMENTED_URL},
        ),
        AfterValidator(check_url_syntax),
    ]
    event_types: Annotated[list[EventPattern], Field(min_length=1, max_length=10)]


class WebhookCreated(WebhookOut):
    signing_key: str = Field(description="Verify Shadowmap-Signature with this; shown once.")


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            payload=delivery.payload,
        )


@router.get("", response_model=list[WebhookOut], responses=AUTH_RESPONSES)
def list_webhooks(session: DbSession, _caller: WebhooksAdmin) -> list[WebhookOut]:
    """List webhook endpoints (events: inventory.item.* and register.entry.*) with their
    backlog: pending and failed deliveries, and events dropped because the backlog was full."""
    backlog = webhooks.backlog_by_endpoint(session)
    return [
        WebhookOut.of(endpoint, backlog.get(endpoint.id))
        for endpoint in webhooks.list_webhook_endpoints(session)
    ]


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    responses={
        **AUTH_RESPONSES,
        409: {"description": "The name is taken"},
        422: {"description": "Invalid URL, or its host does not resolve to a public address"},
    },
)
def create_webhook(
    body: WebhookCreate, session: DbSession, state: State, _caller: WebhooksAdmin
) -> WebhookCreated:
    """Create a webhook endpoint; the signing key is in this response only."""
    endpoint = create_endpoint(
        session, state.settings, name=body.name, url=body.url, event_types=body.event_types
    )
    return WebhookCreated(
        **WebhookOut.of(endpoint).model_dump(),
        signing_key=key_hex(endpoint_key(state.settings, endpoint)),
    )


@router.delete(
    "/{webhook_id}",
    status_code=204,
    responses={**AUTH_RESPONSES, 404: {"description": "No such webhook"}},
)
def delete_webhook(
    webhook_id: RowId,
    session: DbSession,
    _caller: WebhooksAdmin,
) -> Response:
    """Delete a webhook endpoint and its delivery log."""
    webhooks.delete_webhook_endpoint(session, endpoint_id=webhook_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=list[DeliveryOut], responses=AUTH_RESPONSES)
def list_deliveries(
    session: DbSession,
    _caller: WebhooksAdmin,
    webhook_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """The delivery log, newest first: attempts, last status and error of each event."""
    deliveries = webhooks.list_webhook_deliveries(
        session, endpoint_id=webhook_id, status=status, limit=limit
    )
    return [DeliveryOut.of(delivery) for delivery in deliveries]
