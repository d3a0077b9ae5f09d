"""The audit trail over the API: filters, paging and each event's hash-chain link."""

from __future__ import annotations

import datetime as dt
import itertools

from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.store import audit as audit_store
from collector.store.base import utcnow
from tests.server.conftest import bearer, make_token
from tests.server.seed import decided

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def test_audit_trail_filters_pages_and_carries_each_hash_link(
    client: TestClient, app: FastAPI
) -> None:
    first = decided(app, "ChatGPT", on=dt.date(2026, 1, 5))
    second = decided(app, "Copilot", on=dt.date(2026, 1, 5))
    token = make_token(app, ["register:read"])

    def audit(**params: object) -> list[dict[str, object]]:
        answer = client.get("/api/v1/audit", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        events: list[dict[str, object]] = answer.json()
        return events

    everything = audit()
    assert [event["action"] for event in everything] == [
        "entry.approved",
        "entry.create",
        "entry.approved",
        "entry.create",
    ]
    # Newest first; each event's prev_hash is the hash of the one before it in the chain.
    for newer, older in itertools.pairwise(everything):
        assert newer["prev_hash"] == older["hash"]
    for event in everything:
        payload = {key: event[key] for key in ("actor", "action", "object_type", "object_id")}
        payload |= {"before": event["before"], "after": event["after"]}
        payload["at"] = dt.datetime.fromisoformat(str(event["at"])).astimezone(dt.UTC).isoformat()
        assert audit_store.event_hash(str(event["prev_hash"]), payload) == event["hash"]

    assert {event["object_id"] for event in audit(object_id=first)} == {first}
    assert [event["object_id"] for event in audit(actor="carol")] == [second, first]
    assert [event["object_id"] for event in audit(action="entry.create", limit=1)] == [second]
    assert [event["object_id"] for event in audit(action="entry.create", offset=1)] == [first]
    assert audit(since=(utcnow() + dt.timedelta(minutes=1)).isoformat()) == []
    assert len(audit(object_type="entry", since=T0.replace(year=2020).isoformat())) == 4
    assert audit(object_type="user") == []
    refused = client.get("/api/v1/audit", headers=bearer(make_token(app, ["inventory:read"])))
    assert refused.status_code == 403
    bad = client.get("/api/v1/audit", params={"object_type": "x"}, headers=bearer(token))
    assert bad.status_code == 422
