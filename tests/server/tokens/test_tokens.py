"""API tokens: the CLI creates, lists and revokes them; unknown, revoked and expired ones are
refused."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.cli import main
from server.config import ServerSettings
from tests.server.conftest import bearer, make_token


def test_unknown_revoked_and_expired_tokens_are_refused(client: TestClient, app: FastAPI) -> None:
    assert client.get("/api/v1/inventory", headers=bearer("smapi_nope")).status_code == 401
    assert client.get("/api/v1/inventory").status_code == 401
    expired = make_token(
        app, ["inventory:read"], expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    answer = client.get("/api/v1/inventory", headers=bearer(expired))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    admin = make_token(app, ["admin"], name="root")
    victim = make_token(app, ["inventory:read"], name="victim")
    assert client.get("/api/v1/inventory", headers=bearer(victim)).status_code == 200
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=bearer(admin)).json()}
    assert listed["victim"]["last_used_at"] is not None
    revoked = client.delete(f"/api/v1/tokens/{listed['victim']['id']}", headers=bearer(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/inventory", headers=bearer(victim)).status_code == 401
    assert client.delete("/api/v1/tokens/999999", headers=bearer(admin)).status_code == 404


def test_the_cli_creates_lists_and_revokes_tokens(
    settings: ServerSettings, app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = ["--data-dir", str(settings.data_dir)]
    assert (
        main(
            [
                "api-token", "create", "--name", "grc", "--scope", "inventory:read",
                "--scope", "hosts:read", "--expires", "90d", "--quiet", *data_dir,
            ]
        )
        == 0
    )  # fmt: skip
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("smapi_")
    with TestClient(app) as client:
        assert client.get("/api/v1/hosts", headers=bearer(secret)).status_code == 200
        assert main(["api-token", "list", *data_dir]) == 0
        listing = capsys.readouterr().out
        assert "grc" in listing and "hosts:read inventory:read" in listing
        assert secret not in listing
        token_id = listing.split("\t")[0].lstrip("#")
        assert main(["api-token", "revoke", token_id, *data_dir]) == 0
        assert client.get("/api/v1/hosts", headers=bearer(secret)).status_code == 401
    with pytest.raises(SystemExit):
        main(["api-token", "create", "--name", "x", "--scope", "everything", *data_dir])
