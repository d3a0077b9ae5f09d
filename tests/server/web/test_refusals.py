"""Small refusals an outside audit asked for: a non-text evidence link is a 422 (not a 500),
search text is matched literally (q=% finds only a "%"), an API token's expiry is a time
(0 is refused, not read as 1970), the OpenAPI document names the 400 and 401 answers."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from server.register import service
from server.register.schemas import EntryInput
from tests.factories import finding, report
from tests.server.conftest import bearer, enroll, make_token, sign_in


@pytest.mark.parametrize("link", [1, None, {"url": "https://a.example"}, ["https://a.example"]])
def test_a_non_text_evidence_link_is_a_422(client: TestClient, app: FastAPI, link: object) -> None:
    token = make_token(app, ["register:write"])
    answer = client.post(
        "/api/v1/register",
        json={"title": "T", "ai_system": "S", "evidence_links": ["https://a.example/x", link]},
        headers=bearer(token),
    )
    assert answer.status_code == 422, answer.text
    assert "evidence_links" in answer.text


def test_search_wildcards_are_matched_literally(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app)
    sent = report([finding("openai-chatgpt"), finding("ollama", indicator="ollama")])
    client.post("/api/v1/agents/reports", content=sent.to_json(), headers=bearer(credential))
    with transaction(app.state.shadowmap.sessions) as session:
        for title in ("Plain letters", "100% automated", "under_score"):
            service.create_entry(
                session, actor="admin", fields=EntryInput(title=title, ai_system="X")
            )
    sign_in(client, "viewer")
    links = [f'href="/inventory/{item["id"]}"' for item in client.get("/api/v1/inventory").json()]
    assert len(links) == 2

    def listed(query: str) -> int:
        page = client.get("/triage", params={"q": query, "status": "all"}).text
        return sum(link in page for link in links)

    assert listed("") == 2
    for query in ("%", "_", "\\", "%%", "_%"):
        assert listed(query) == 0, query
    assert listed("llam") == 1
    register = client.get("/register", params={"q": "%"}).text
    assert "100% automated" in register and "Plain letters" not in register
    underscore = client.get("/register", params={"q": "_"}).text
    assert "under_score" in underscore and "Plain letters" not in underscore


@pytest.mark.parametrize("expires_at", [0, 1, 1893456000, 0.0, True])
def test_a_token_expiry_must_be_a_time_not_a_number(
    client: TestClient, app: FastAPI, expires_at: object
) -> None:
    admin = make_token(app, ["admin"])
    answer = client.post(
        "/api/v1/tokens",
        json={"name": f"n-{expires_at}", "scopes": ["hosts:read"], "expires_at": expires_at},
        headers=bearer(admin),
    )
    assert answer.status_code == 422, answer.text
    assert "RFC 3339" in answer.text


def test_a_token_expiry_as_a_time_is_kept(client: TestClient, app: FastAPI) -> None:
    admin = make_token(app, ["admin"])
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    answer = client.post(
        "/api/v1/tokens",
        json={"name": "later", "scopes": ["hosts:read"], "expires_at": when.isoformat()},
        headers=bearer(admin),
    )
    assert answer.status_code == 201
    assert dt.datetime.fromisoformat(answer.json()["expires_at"]) == when


def test_the_openapi_document_names_400_and_401_answers(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path != "/api/v1/agents/enroll":
                assert "401" in responses, (method, path)
            if path.startswith("/api/v1/agents/") and "{" not in path:
                continue
            assert "400" in responses, (method, path)
            if method in ("post", "patch"):
                assert "413" in responses, (method, path)
