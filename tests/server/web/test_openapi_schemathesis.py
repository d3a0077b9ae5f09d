"""Schemathesis against the served OpenAPI document, in-process over ASGI, with a real API
token: every /api/v1 read, sync, token and report endpoint answers as its schema says."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.generation import GenerationMode

from collector.db import make_engine, transaction, upgrade
from collector.ingest import ingest_report
from server.app import create_app
from server.config import ServerSettings
from server.outbound.policy import AllowList, DestinationPolicy
from server.web.openapi_links import LINKS
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
    # The agents' own endpoints speak the agent credential protocol and are tested by the
    # runtime suite; the admin endpoints of agents (/api/v1/agents, /{agent_id}...) are here.
    # The people import takes a free-form CSV body, checked row by row with a 422 naming the
    # row; its bad-input cases are in tests/server/people.
    return schema.exclude(
        path_regex=r"^/api/v1/(agents/(enroll|reports|config|signatures|update.*)|people/import)$"
    )


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


def test_every_operation_is_linked(api_app: FastAPI) -> None:
    """Every operation of the document is the source or the target of an OpenAPI link, so the
    stateful run below can reach it with values another answer gave."""
    document = api_app.openapi()
    operations = {
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    }
    linked = {link.source for link in LINKS} | {link.target for link in LINKS}
    assert operations - linked == set()
    assert linked - operations == set()
    responses = document["paths"]["/api/v1/hosts"]["get"]["responses"]
    assert responses["200"]["links"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_api_conforms_statefully_following_its_links(
    api_schema: schemathesis.schemas.BaseSchema, api_app: FastAPI
) -> None:
    """schemathesis' stateful run: sequences of calls that follow the OpenAPI links (create a
    register entry, read it, patch it, find it in the audit trail; create a token, revoke it;
    list agents, revoke one, approve it...), each answer checked against the document."""
    # Positive data, as the run above: the links are what is new here (negative data would
    # flag extra query parameters, which the API ignores as HTTP APIs commonly do).
    api_schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    machine = api_schema.as_state_machine()
    statuses: dict[str, set[int]] = {}
    counts: Counter[str] = Counter()

    class Stateful(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            # A fresh admin token per call: a followed DELETE /tokens/{id} may revoke one.
            token = make_token(api_app, ["admin"], name=f"sf-{secrets.token_hex(8)}")
            return {"headers": bearer(token)}

        def after_call(self, response: object, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            code = response.status_code  # type: ignore[attr-defined]
            statuses.setdefault(case.operation.label, set()).add(code)
            counts[case.operation.label] += 1

    # The database outlives each sequence, so Hypothesis may see the same choices lead to
    # other rules (an id that existed is gone): that is FlakyStrategyDefinition, which
    # schemathesis' own runner answers by starting again with a new seed; so does this loop,
    # until enough calls were made. A failed check is a FailureGroup and ends the test.
    calls_wanted, started = 400, time.monotonic()
    while sum(counts.values()) < calls_wanted and time.monotonic() - started < 90:
        try:
            run_state_machine_as_test(
                Stateful,
                settings=settings(
                    max_examples=40,
                    stateful_step_count=8,
                    deadline=None,
                    phases=[Phase.generate],
                    database=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        except FlakyStrategyDefinition:
            continue
    assert sum(counts.values()) >= calls_wanted, counts
    # Links were followed to answers that needed a value from an earlier one: operations
    # with an id in the path answered 2xx (which ones varies with the random sequences).
    reached = {
        label
        for label, codes in statuses.items()
        if "{" in label and "{fmt}" not in label and any(200 <= code < 300 for code in codes)
    }
    assert len(reached) >= 3, statuses
