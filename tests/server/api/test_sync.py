"""Incremental sync: the cursor, ETags, tombstones, and every change seen once while other
transactions commit concurrently (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.models import InventoryItem, utcnow
from server.api.paging import decode_cursor, encode_cursor
from server.app import create_app
from server.config import ServerSettings
from server.errors import InvalidInput
from tests.conftest import PG_ADMIN_URL
from tests.server.api.conftest import bearer, make_token

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def add_item(app: FastAPI, key: str, **fields: Any) -> int:
    with transaction(app.state.shadowmap.sessions) as session:
        item = InventoryItem(key=key, name=key.title(), first_seen_at=T0, last_seen_at=T0, **fields)
        session.add(item)
        session.flush()
        return item.id


def page(client: TestClient, token: str, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/sync/inventory", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_pages_follow_the_cursor_and_report_creates_updates_and_deletes(
    client: TestClient, app: FastAPI
) -> None:
    token = make_token(app, ["inventory:read"])
    ids = [add_item(app, f"svc-{n}") for n in range(5)]
    first = page(client, token, limit=2)
    assert [c["id"] for c in first["changes"]] == ids[:2] and first["has_more"]
    assert all(c["change"] == "created" for c in first["changes"])
    second = page(client, token, limit=2, cursor=first["next_cursor"])
    third = page(client, token, limit=2, cursor=second["next_cursor"])
    assert [c["id"] for c in second["changes"] + third["changes"]] == ids[2:]
    assert not third["has_more"]
    caught_up = page(client, token, cursor=third["next_cursor"])
    assert caught_up["changes"] == [] and caught_up["next_cursor"] == third["next_cursor"]

    with transaction(app.state.shadowmap.sessions) as session:
        session.get(InventoryItem, ids[1]).state = "approved"  # type: ignore[union-attr]
        session.delete(session.get(InventoryItem, ids[3]))
    changes = page(client, token, cursor=third["next_cursor"])["changes"]
    assert [(c["id"], c["change"]) for c in changes] == [(ids[1], "updated"), (ids[3], "deleted")]
    assert changes[0]["item"]["state"] == "approved" and changes[1]["item"] is None


def test_etag_gives_304_until_something_changes(client: TestClient, app: FastAPI) -> None:
    token = make_token(app, ["inventory:read"])
    add_item(app, "svc-a")
    first = client.get("/api/v1/sync/inventory", headers=bearer(token))
    etag = first.headers["ETag"]
    again = client.get("/api/v1/sync/inventory", headers={**bearer(token), "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.content == b""
    weak = client.get(
        "/api/v1/sync/inventory", headers={**bearer(token), "If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    add_item(app, "svc-b")
    changed = client.get("/api/v1/sync/inventory", headers={**bearer(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_updated_since_narrows_the_first_page_and_resumes_without_gaps(
    client: TestClient, app: FastAPI
) -> None:
    token = make_token(app, ["inventory:read"])
    add_item(app, "old")
    time.sleep(0.01)
    since = utcnow()
    nothing = page(client, token, updated_since=since.isoformat())
    assert nothing["changes"] == []
    new_id = add_item(app, "new")
    resumed = page(client, token, cursor=nothing["next_cursor"])
    assert [c["id"] for c in resumed["changes"]] == [new_id]
    narrowed = page(client, token, updated_since=since.isoformat())
    assert [c["id"] for c in narrowed["changes"]] == [new_id]


@pytest.mark.parametrize(
    ("cursor", "status", "detail"),
    [
        ("not-a-cursor!!", 422, "cursor"),
        ("i" + "f" * 16, 422, "cursor"),
        (encode_cursor(entity="register.entry", seq=3), 422, "cursor"),
    ],
)
def test_a_malformed_cursor_is_refused_naming_the_field(
    client: TestClient, app: FastAPI, cursor: str, status: int, detail: str
) -> None:
    token = make_token(app, ["inventory:read"])
    answer = client.get("/api/v1/sync/inventory", params={"cursor": cursor}, headers=bearer(token))
    assert answer.status_code == status and detail in answer.text


def test_cursors_are_checked_against_their_feed() -> None:
    with pytest.raises(InvalidInput, match="another feed"):
        decode_cursor(encode_cursor(entity="register.entry", seq=3), entity="inventory.item")
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor("zz", entity="inventory.item")
    assert (
        decode_cursor(encode_cursor(entity="inventory.item", seq=300), entity="inventory.item")
        == 300
    )


# Concurrency ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own (threads commit for real, so no rolled-back session)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sync.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips when PostgreSQL is unreachable
    name = f"shadowmap_sync_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
def test_a_poller_sees_every_change_once_while_writers_commit_out_of_order(
    fresh_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(fresh_database_url)
    upgrade(engine)
    settings = ServerSettings(
        data_dir=tmp_path,
        database_url=fresh_database_url,
        api_burst=100_000,
        scheduler_enabled=False,
    )
    app = create_app(settings)
    try:
        poll_while_writers_commit(engine, app)
    finally:
        engine.dispose()
        app.state.shadowmap.engine.dispose()


def poll_while_writers_commit(engine: Engine, app: FastAPI) -> None:
    sessions = make_sessionmaker(engine)
    token = make_token(app, ["inventory:read"])
    writers_done = threading.Event()
    commits: list[tuple[dt.datetime, float]] = []  # (updated_at written, time of commit)
    commits_lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        rng = random.Random(number)
        try:
            for step in range(25):
                with sessions() as session, session.begin():
                    stamp = utcnow()
                    if step % 3 == 0 or number == 0:
                        session.add(
                            InventoryItem(
                                key=f"w{number}-{step}",
                                name=f"w{number}-{step} v0",
                                first_seen_at=T0,
                                last_seen_at=T0,
                                updated_at=stamp,
                            )
                        )
                    else:
                        # Writer 0's items are never updated: each is one change that a
                        # poller must see exactly once (no later update can mask a miss).
                        ids = session.scalars(
                            select(InventoryItem.id)
                            .where(InventoryItem.key.not_like("w0-%"))
                            .order_by(InventoryItem.id)
                        ).all()
                        for item_id in sorted(rng.sample(list(ids), k=min(2, len(ids)))):
                            item = session.get(InventoryItem, item_id, with_for_update=True)
                            assert item is not None
                            item.name = f"{item.key} v{number}.{step}"
                            item.updated_at = stamp
                    session.flush()
                    # Hold the transaction open: later transactions commit first.
                    time.sleep(rng.uniform(0, 0.06 if number == 0 else 0.03))
                with commits_lock:
                    commits.append((stamp, time.monotonic()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    received: list[dict[str, Any]] = []
    with TestClient(app) as client:

        def poll_once(cursor: str | None) -> tuple[str | None, bool]:
            params: dict[str, Any] = {"limit": 7}
            if cursor:
                params["cursor"] = cursor
            body = page(client, token, **params)
            received.extend(body["changes"])
            return body["next_cursor"], body["has_more"]

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        cursor: str | None = None
        polls = 0
        while any(thread.is_alive() for thread in threads):
            cursor, _ = poll_once(cursor)
            polls += 1
            time.sleep(0.001)
        for thread in threads:
            thread.join()
        writers_done.set()
        has_more = True
        while has_more:
            cursor, has_more = poll_once(cursor)
    assert not errors, errors
    assert polls > 10  # the poller really ran while the writers were committing

    # The race this feed must survive did happen: some transaction stamped an earlier
    # updated_at than another but committed after it (an (updated_at, id) cursor misses it).
    by_commit = sorted(commits, key=lambda pair: pair[1])
    assert any(later[0] < earlier[0] for earlier, later in itertools.pairwise(by_commit))

    numbers = [change["change_seq"] for change in received]
    assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))
    last_seen: dict[int, str] = {}
    for change in received:
        last_seen[change["id"]] = change["item"]["name"]
    with sessions() as session:
        final = {item.id: item.name for item in session.scalars(select(InventoryItem))}
    assert last_seen == final  # every row's newest state arrived; nothing missed
    create_only = [
        change["item"]["key"] for change in received if change["item"]["key"].startswith("w0-")
    ]
    assert sorted(create_only) == sorted(f"w0-{step}" for step in range(25))
    assert len(received) <= len(commits) * 2


def test_change_tracking_triggers_exist_at_the_newest_revision(migrated_engine: Engine) -> None:
    # SQLite's batch migrations rebuild a table and drop its triggers: a later migration that
    # alters inventory_items must re-create them, and this test notices if it did not.
    with migrated_engine.connect() as connection:
        if migrated_engine.dialect.name == "sqlite":
            names = set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                ).scalars()
            )
            assert {
                "trg_inventory_items_change_insert",
                "trg_inventory_items_change_update",
                "trg_inventory_items_change_delete",
            } <= names
        else:
            names = set(
                connection.execute(
                    text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                ).scalars()
            )
            assert "trg_inventory_items_change" in names
