"""Whatever an agent (or someone holding its credential) sends, ingest answers 4xx, never 500,
on SQLite and on PostgreSQL: lone UTF-16 surrogates, JSON nested past the parser's depth,
5,000-digit integers, time-zone offsets past year 9999, bodies that are not UTF-8 JSON (text
media types, UTF-16, a byte-order mark). Pages keep answering afterwards."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server.app import create_app
from server.config import ServerSettings
from tests.conftest import PG_ADMIN_URL
from tests.factories import finding, report
from tests.server.conftest import _seed_users, bearer, enroll, sign_in


@pytest.fixture(scope="module")
def own_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of this module's own (the session one stays unseeded)."""
    name = f"shadowmap_hostile_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    seeded_sqlite: Path,
) -> Iterator[tuple[TestClient, str, str]]:
    """A server on each backend, with one enrolled agent: (client, credential, agent id)."""
    data_dir = tmp_path_factory.mktemp("hostile")
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("own_postgres_url")
        _seed_users(url)
    else:
        shutil.copyfile(seeded_sqlite, data_dir / "shadowmap.db")
    app = create_app(ServerSettings(data_dir=data_dir, scheduler_enabled=False, database_url=url))
    agent_id = f"agent-hostile-{request.param}"
    with TestClient(app) as client:
        yield client, enroll(client, app, agent_id=agent_id), agent_id
    app.state.shadowmap.engine.dispose()


def _good(agent_id: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(
        report([finding("openai-chatgpt")], agent_id=agent_id).to_json()
    )
    return doc


def _with_finding(doc: dict[str, object], **fields: object) -> dict[str, object]:
    findings = doc["findings"]
    assert isinstance(findings, list)
    return {**doc, "findings": [{**findings[0], **fields}]}


def _cases(agent_id: str) -> dict[str, bytes]:
    good = _good(agent_id)
    host = good["host"]
    assert isinstance(host, dict)

    def dumped(doc: object) -> bytes:
        return json.dumps(doc).encode()  # json.dumps writes a lone surrogate as \\udxxx

    deep = b'{"evidence": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    return {
        "surrogate-indicator": dumped(_with_finding(good, indicator="chat\ud800gpt")),
        "surrogate-hostname": dumped({**good, "host": {**host, "hostname": "lap\udfff"}}),
        "surrogate-evidence": dumped(_with_finding(good, evidence={"path": "/x/\ud83d"})),
        "surrogate-evidence-key": dumped(_with_finding(good, evidence={"\udc80": "v"})),
        "surrogate-health": dumped({**good, "health": {"note": "\ud800"}}),
        "deep-nesting": deep,
        "deep-evidence": dumped(good).replace(
            b'"evidence": {', b'"evidence": {"x": ' + b"[" * 990 + b"]" * 990 + b", ", 1
        ),
        "huge-integer": dumped(good).replace(
            b'"schema_version": 1', b'"schema_version": ' + b"9" * 5000
        ),
        "tz-overflow": dumped(_with_finding(good, last_seen="9999-12-31T23:59:59-23:59")),
        "tz-underflow": dumped(_with_finding(good, first_seen="0001-01-01T00:00:00+23:59")),
        "utf-16": json.dumps(good).encode("utf-16"),
        "utf-16-le": json.dumps(good).encode("utf-16-le"),
        "bom": b"\xef\xbb\xbf" + dumped(good),
    }


CASES = sorted(_cases("x"))


@pytest.mark.parametrize("case", CASES)
def test_hostile_report_bodies_get_4xx(served: tuple[TestClient, str, str], case: str) -> None:
    client, credential, agent_id = served
    body = _cases(agent_id)[case]
    answer = client.post(
        "/api/v1/agents/reports",
        content=body,
        headers={**bearer(credential), "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500, (case, answer.status_code, answer.text[:300])
    # The reason is readable JSON.
    assert answer.json()["detail"]


@pytest.mark.parametrize(
    "media_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16"],
)
def test_bodies_of_another_media_type_are_refused(
    served: tuple[TestClient, str, str], media_type: str
) -> None:
    client, credential, _agent_id = served
    answer = client.post(
        "/api/v1/agents/reports",
        content=report([finding()]).to_json(),
        headers={**bearer(credential), "Content-Type": media_type},
    )
    assert answer.status_code == 415, answer.text
    assert "application/json" in answer.json()["detail"]


def test_a_long_integer_in_evidence_is_stored_or_refused_never_a_500(
    served: tuple[TestClient, str, str],
) -> None:
    client, credential, agent_id = served
    body = json.dumps(_good(agent_id)).encode().replace(b'"pid": 42', b'"pid": ' + b"7" * 4000)
    answer = client.post("/api/v1/agents/reports", content=body, headers=bearer(credential))
    assert answer.status_code in (200, 422), answer.text[:300]


def test_pages_answer_after_the_hostile_reports(served: tuple[TestClient, str, str]) -> None:
    client, _credential, _agent_id = served
    sign_in(client, "viewer")
    for path in ("/hosts", "/inventory", "/api/v1/hosts", "/api/v1/inventory"):
        assert client.get(path).status_code == 200, path
    for host in client.get("/api/v1/hosts").json():
        assert client.get(f"/hosts/{host['id']}").status_code == 200
        assert client.get(f"/api/v1/hosts/{host['id']}").status_code == 200
    for item in client.get("/api/v1/inventory").json():
        assert client.get(f"/inventory/{item['id']}").status_code == 200
    client.cookies.clear()
