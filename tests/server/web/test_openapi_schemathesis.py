"""Schemathesis against the served OpenAPI document, in-process over ASGI, with a real API
token: every /api/v1 read, sync, token and report endpoint answers as its schema says."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from collector.db import make_engine, transaction, upgrade
from collector.ingest import ingest_report
from server.app import create_app
from server.config import ServerSettings
from server.outbound.policy import AllowList, DestinationPolicy
from server.webhooks import service as webhook_service
from tests.factories import enrolled_agent, finding, report
from tests.server.conftest import bearer, make_token


def _loopback_resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


@pytest.fixture
def api_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # Webhook URLs are generated from the documented pattern; their host names must not be
    # looked up in the world's DNS from a test, so every name resolves to loopback here, and
    # the allow-list admits every network: what is checked is the API's contract, the
    # destination policy has its own tests (tests/server/outbound). No delivery runs: the
    # scheduler is off.
    monkeypatch.setattr(
        webhook_service,
        "destination_policy",
        lambda s: DestinationPolicy(
            allow=AllowList.parse(s.outbound_allow), resolver=_loopback_resolver
        ),
    )
    app_settings = ServerSettings(
        data_dir=tmp_path,
        api_burst=1_000_000,
        scheduler_enabled=False,
        outbound_allow="0.0.0.0/0,::/0",
    )
    upgrade(make_engine(app_settings.resolved_database_url()))
    app = create_app(app_settings)
    state = app.state.shadowmap
    with transaction(state.sessions) as session:
        agent, _credential = enrolled_agent(session)
        wire = report(
            [
                finding("openai-chatgpt"),
                finding(None, indicator="weird-llm-helper", heuristic="llm-ish"),
            ]
        )
        ingest_report(session, agent=agent, report=wire, catalogue=state.catalogue)
    return app


@pytest.fixture
def api_schema(api_app: FastAPI) -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api_app)
    # Agent endpoints speak the agent credential protocol and are tested by the runtime suite.
    # The people import takes a free-form CSV body, checked row by row with a 422 naming the
    # row; its bad-input cases are in tests/server/people.
    return schema.exclude(path_regex=r"^/api/v1/(agents/|people/import$)")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_api_conforms_to_its_openapi_document(
    api_schema: schemathesis.schemas.BaseSchema, api_app: FastAPI
) -> None:
    # schemathesis' pytest plugin does not support this pytest; drive its strategies directly.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert {"GET /api/v1/sync/inventory", "POST /api/v1/tokens", "GET /api/v1/hosts"} <= labels
    failures: dict[str, str] = {}
    statuses: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            # A fresh admin token per case, so that a generated DELETE /tokens/{id} cannot
            # lock the run out; unauthenticated variants come from schemathesis' auth checks.
            token = make_token(api_app, ["admin"], name=f"st-{secrets.token_hex(8)}")
            response = case.call_and_validate(headers=bearer(token))
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        try:
            check()
        except Exception as exc:  # collected so that one run reports every operation
            failures[operation.label] = str(exc)[:2000]
    assert failures == {}
    # The token really got through: the runs reached the handlers, not just the auth layer.
    assert 200 in statuses["GET /api/v1/sync/inventory"]
    assert 200 in statuses["GET /api/v1/inventory"]
    assert 201 in statuses["POST /api/v1/tokens"]
    assert 201 in statuses["POST /api/v1/webhooks"]
