"""`shadowmap user create` goes through the accounts service the admin page uses: it refuses
every username the page refuses, and audits the account it creates."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.db import transaction
from collector.store import users
from collector.store.audit import AuditEvent
from server.cli import main
from server.config import ServerSettings
from tests.server.conftest import sign_in

REFUSED = ["", "   ", "two words", "<script>", "semi;colon", "slash/name", "a" * 65]


def _usernames(app: FastAPI) -> set[str]:
    with transaction(app.state.shadowmap.sessions) as session:
        return {user.username for user in users.list_users(session)}


def _create(settings: ServerSettings, *extra: str) -> int:
    return main(["user", "create", "--data-dir", str(settings.data_dir), *extra])


@pytest.mark.parametrize("username", REFUSED)
def test_the_cli_refuses_what_the_admin_page_refuses(
    username: str,
    client: TestClient,
    app: FastAPI,
    settings: ServerSettings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _usernames(app)
    csrf = sign_in(client, "admin")
    page = client.post("/admin/users", data={"csrf": csrf, "username": username, "role": "viewer"})
    assert page.status_code == 422, page.text

    assert _create(settings, "--username", username, "--password", "long enough secret") == 2
    assert "username" in capsys.readouterr().err
    assert _usernames(app) == before


def test_the_cli_creates_what_the_page_would_and_audits_it(
    app: FastAPI, settings: ServerSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create(settings, "--username", " ops.team-1 ", "--role", "reviewer") == 0
    out = capsys.readouterr().out
    assert "created reviewer 'ops.team-1'" in out and "password: " in out
    assert "ops.team-1" in _usernames(app)
    with transaction(app.state.shadowmap.sessions) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        assert (event.actor, event.action, event.object_type) == ("cli", "user.create", "user")
        assert event.after == {
            "username": "ops.team-1",
            "role": "reviewer",
            "disabled": False,
            "email": "",
        }

    # The same name again is a conflict, as on the page; a short password is refused.
    assert _create(settings, "--username", "ops.team-1") == 2
    assert _create(settings, "--username", "ops2", "--password", "short") == 2
    assert "12 characters" in capsys.readouterr().err
    assert "ops2" not in _usernames(app)


def test_if_no_users_creates_only_the_first_account(
    app: FastAPI, settings: ServerSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _create(settings, "--username", "first", "--if-no-users") == 0
    assert "users already exist" in capsys.readouterr().out
    assert "first" not in _usernames(app)
