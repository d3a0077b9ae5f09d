"""API tokens for the in-process server of tests/server/conftest.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI

from collector.db import transaction
from collector.store import tokens
from server.config import ServerSettings


def make_token(
    app: FastAPI,
    scopes: Sequence[str],
    *,
    name: str | None = None,
    expires_at: dt.datetime | None = None,
) -> str:
    """Create an API token straight in the app's database; return its secret."""
    with transaction(app.state.shadowmap.sessions) as session:
        count = len(tokens.list_api_tokens(session))
        _token, secret = tokens.create_api_token(
            session, name=name or f"token-{count}", scopes=scopes, expires_at=expires_at
        )
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    """The in-process server without its background scheduler, so that tests drive webhook
    delivery rounds themselves and nothing races them."""
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False)
