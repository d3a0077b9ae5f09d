"""Agent identities cannot be taken over: a known agent id enrolls again only with proof (its
current credential, or an admin's approval); an agent is revoked on its own (API, CLI, page);
an agent cannot give its host another host's name; report ids are unique per agent."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.db import transaction
from collector.store import agents
from collector.store.agents import Agent
from collector.store.audit import AuditEvent
from server.cli import main
from server.config import ServerSettings
from tests.factories import finding, report
from tests.server.conftest import bearer, enroll, make_token, sign_in

VICTIM = "agent-victim-0001"


def _token(app: FastAPI) -> str:
    with transaction(app.state.shadowmap.sessions) as session:
        _token, secret = agents.create_enrollment_token(
            session, name="fleet", expires_at=None, max_uses=None
        )
    return secret


def _enroll(
    client: TestClient,
    token: str,
    agent_id: str,
    *,
    hostname: str = "attacker-box",
    credential: str | None = None,
) -> object:
    return client.post(
        "/api/v1/agents/enroll",
        json={
            "token": token,
            "agent_id": agent_id,
            "host": {"hostname": hostname, "os": "linux", "os_version": "", "arch": "x86_64"},
        },
        headers=bearer(credential) if credential else {},
    )


def _send(client: TestClient, credential: str, **kwargs: object) -> object:
    return client.post(
        "/api/v1/agents/reports",
        content=report([finding()], **kwargs).to_json(),  # type: ignore[arg-type]
        headers=bearer(credential),
    )


def _agent(app: FastAPI, uid: str = VICTIM) -> Agent:
    with transaction(app.state.shadowmap.sessions) as session:
        agent = session.scalar(select(Agent).where(Agent.agent_uid == uid))
        assert agent is not None
        session.expunge(agent)
        return agent


def test_the_fleet_token_alone_cannot_take_over_an_enrolled_agent_id(
    client: TestClient, app: FastAPI
) -> None:
    victim = enroll(client, app, agent_id=VICTIM, hostname="ceo-laptop")
    token = _token(app)

    stolen = _enroll(client, token, VICTIM)
    assert stolen.status_code == 403  # type: ignore[attr-defined]
    assert "already enrolled" in stolen.json()["detail"]  # type: ignore[attr-defined]
    forged = _enroll(client, token, VICTIM, credential="smag_forged-credential")
    assert forged.status_code == 403  # type: ignore[attr-defined]
    assert "not its current one" in forged.json()["detail"]  # type: ignore[attr-defined]

    # The victim keeps its credential and its host keeps its name.
    assert _send(client, victim, agent_id=VICTIM, hostname="ceo-laptop").status_code == 200  # type: ignore[attr-defined]
    assert _agent(app).host.hostname == "ceo-laptop"


def test_an_agent_with_its_current_credential_enrolls_again_and_rotates_it(
    client: TestClient, app: FastAPI
) -> None:
    first = enroll(client, app, agent_id=VICTIM)
    answer = _enroll(client, _token(app), VICTIM, credential=first)
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    second = answer.json()["credential"]  # type: ignore[attr-defined]
    assert _send(client, first, agent_id=VICTIM).status_code == 401  # type: ignore[attr-defined]
    assert _send(client, second, agent_id=VICTIM).status_code == 200  # type: ignore[attr-defined]


def test_a_revoked_agent_stays_out_until_an_admin_approves_one_reenrollment(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app, agent_id=VICTIM)
    agent_row = _agent(app).id
    admin = make_token(app, ["admin"])
    viewer = make_token(app, ["hosts:read"])

    listed = client.get("/api/v1/agents", headers=bearer(viewer)).json()
    assert [(a["agent_id"], a["revoked_at"]) for a in listed] == [(VICTIM, None)]
    assert (
        client.post(f"/api/v1/agents/{agent_row}/revoke", headers=bearer(viewer)).status_code == 403
    )
    revoked = client.post(f"/api/v1/agents/{agent_row}/revoke", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]

    assert _send(client, credential, agent_id=VICTIM).status_code == 401  # type: ignore[attr-defined]
    token = _token(app)
    # Revocation sticks: neither the enrollment token nor the old credential brings it back.
    for proof in (None, credential):
        again = _enroll(client, token, VICTIM, credential=proof)
        assert again.status_code == 403, again.text  # type: ignore[attr-defined]
        assert "revoked" in again.json()["detail"]  # type: ignore[attr-defined]

    approved = client.post(
        f"/api/v1/agents/{agent_row}/approve-reenrollment", headers=bearer(admin)
    )
    assert approved.status_code == 200 and approved.json()["reenroll_approved_until"]
    back = _enroll(client, token, VICTIM)
    assert back.status_code == 200, back.text  # type: ignore[attr-defined]
    assert _send(client, back.json()["credential"], agent_id=VICTIM).status_code == 200  # type: ignore[attr-defined]
    # The approval was for one enrollment.
    assert _enroll(client, token, VICTIM).status_code == 403  # type: ignore[attr-defined]

    with transaction(app.state.shadowmap.sessions) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "agent")
        ).all()
    assert actions == ["agent.revoke", "agent.approve_reenrollment"]


def test_an_admin_revokes_an_agent_from_its_host_page(client: TestClient, app: FastAPI) -> None:
    credential = enroll(client, app, agent_id=VICTIM, hostname="laptop-7")
    agent = _agent(app)
    csrf = sign_in(client, "admin")
    page = client.get(f"/hosts/{agent.host_id}")
    assert VICTIM in page.text and "Revoke" in page.text
    missing_csrf = client.post(f"/hosts/{agent.host_id}/agents/{agent.id}/revoke", data={})
    assert missing_csrf.status_code in (403, 422)
    answer = client.post(
        f"/hosts/{agent.host_id}/agents/{agent.id}/revoke",
        data={"csrf": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert re.search(r"revoked \d{4}-", client.get(f"/hosts/{agent.host_id}").text)
    assert _send(client, credential, agent_id=VICTIM).status_code == 401  # type: ignore[attr-defined]


def test_the_cli_lists_revokes_and_approves_agents(
    client: TestClient,
    app: FastAPI,
    settings: ServerSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    credential = enroll(client, app, agent_id=VICTIM, hostname="laptop-9")
    agent_row = _agent(app).id
    data_dir = ["--data-dir", str(settings.data_dir)]
    assert main(["agent", "list", *data_dir]) == 0
    assert f"#{agent_row}\t{VICTIM}\tlaptop-9\tactive" in capsys.readouterr().out
    assert main(["agent", "revoke", str(agent_row), *data_dir]) == 0
    assert _send(client, credential, agent_id=VICTIM).status_code == 401  # type: ignore[attr-defined]
    assert main(["agent", "approve-reenroll", str(agent_row), *data_dir]) == 0
    capsys.readouterr()
    assert main(["agent", "list", *data_dir]) == 0
    assert "revoked, re-enrollment approved" in capsys.readouterr().out
    assert main(["agent", "revoke", "999", *data_dir]) == 2
    assert "not found" in capsys.readouterr().err


def test_an_agent_cannot_give_its_host_another_hosts_name(client: TestClient, app: FastAPI) -> None:
    enroll(client, app, agent_id="agent-ceo-0001", hostname="ceo-laptop")
    rogue = enroll(client, app, agent_id="agent-rogue-001", hostname="rogue-box")
    answer = _send(client, rogue, agent_id="agent-rogue-001", hostname="CEO-LAPTOP")
    assert answer.status_code == 200  # type: ignore[attr-defined]
    assert _agent(app, "agent-rogue-001").host.hostname == "rogue-box"
    # A name no other host has is still taken.
    assert _send(client, rogue, agent_id="agent-rogue-001", hostname="rogue-2").status_code == 200  # type: ignore[attr-defined]
    assert _agent(app, "agent-rogue-001").host.hostname == "rogue-2"


def test_a_report_id_another_agent_used_is_stored_not_dropped(
    client: TestClient, app: FastAPI
) -> None:
    first = enroll(client, app, agent_id="agent-a-000001", hostname="a")
    second = enroll(client, app, agent_id="agent-b-000001", hostname="b")
    shared = "00000000-0000-4000-8000-000000000001"
    for credential, uid, host in ((first, "agent-a-000001", "a"), (second, "agent-b-000001", "b")):
        answer = _send(client, credential, agent_id=uid, hostname=host, report_id=shared)
        assert answer.json()["status"] == "stored", answer.text  # type: ignore[attr-defined]
    again = _send(client, second, agent_id="agent-b-000001", hostname="b", report_id=shared)
    assert again.json()["status"] == "duplicate"  # type: ignore[attr-defined]
