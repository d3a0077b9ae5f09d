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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store.base import utcnow
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from server.app import create_app
from server.config import ServerSettings
from server.errors import InvalidInput
from server.inventory import service as triage
from server.register import service
from server.register.schemas import EntryInput
from server.sync.service import decode_cursor, encode_cursor
from tests.conftest import PG_ADMIN_URL
from tests.server.conftest import bearer, make_token

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
        triage.transition_item(session, actor="rita", item_id=ids[1], target="triaging")
        session.delete(session.get(InventoryItem, ids[3]))
    changes = page(client, token, cursor=third["next_cursor"])["changes"]
    assert [(c["id"], c["change"]) for c in changes] == [(ids[1], "updated"), (ids[3], "deleted")]
    assert changes[0]["item"]["state"] == "triaging" and changes[1]["item"] is None


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


# The register feed ---------------------------------------------------------------------------


def register_page(client: TestClient, token: str, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/sync/register", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_register_feed_follows_entries_through_their_lifecycle(
    client: TestClient, app: FastAPI
) -> None:
    token = make_token(app, ["register:read"])
    sessions = app.state.shadowmap.sessions
    with transaction(sessions) as session:
        first = service.create_entry(
            session, actor="alice", fields=EntryInput(title="Drafting", ai_system="ChatGPT")
        )
        second = service.create_entry(
            session, actor="alice", fields=EntryInput(title="Coding", ai_system="Copilot")
        )
        ids = [first.id, second.id]
    add_item(app, "not-in-this-feed")
    created = register_page(client, token, limit=1)
    assert created["feed"] == "register.entry" and created["has_more"]
    assert created["next_cursor"].startswith("r")
    rest = register_page(client, token, cursor=created["next_cursor"])
    changes = created["changes"] + rest["changes"]
    assert [(c["id"], c["change"]) for c in changes] == [(ids[0], "created"), (ids[1], "created")]
    assert changes[0]["entry"]["register_id"] == first.register_id
    assert changes[0]["entry"]["status"] == "under_review"

    fields = EntryInput(
        title="Drafting",
        ai_system="ChatGPT",
        business_owner="Bob",
        purpose="Drafting letters",
        risk_level="low",
    )
    with transaction(sessions) as session:
        service.update_entry(
            session,
            actor="alice",
            register_id=first.register_id,
            expected_version=1,
            fields=fields,
        )
        service.decide_entry(
            session,
            actor="carol",
            register_id=first.register_id,
            expected_version=2,
            decision="approved",
            rationale="low risk",
        )
    decided = register_page(client, token, cursor=rest["next_cursor"])
    # Two changes to one row between polls arrive once, in the newest state.
    assert [(c["id"], c["change"]) for c in decided["changes"]] == [(ids[0], "updated")]
    assert decided["changes"][0]["entry"]["status"] == "approved"
    assert decided["changes"][0]["entry"]["decided_by"] == "carol"

    with transaction(sessions) as session:
        session.delete(session.get(RegisterEntry, ids[1]))
    gone = register_page(client, token, cursor=decided["next_cursor"])
    assert [(c["id"], c["change"], c["entry"]) for c in gone["changes"]] == [
        (ids[1], "deleted", None)
    ]
    caught_up = register_page(client, token, cursor=gone["next_cursor"])
    assert caught_up["changes"] == [] and caught_up["next_cursor"] == gone["next_cursor"]


def test_register_feed_has_etags_its_own_cursors_and_needs_register_read(
    client: TestClient, app: FastAPI
) -> None:
    token = make_token(app, ["register:read"])
    with transaction(app.state.shadowmap.sessions) as session:
        service.create_entry(session, actor="a", fields=EntryInput(title="T", ai_system="S"))
    first = client.get("/api/v1/sync/register", headers=bearer(token))
    etag = first.headers["ETag"]
    again = client.get("/api/v1/sync/register", headers={**bearer(token), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    inventory_cursor = encode_cursor(entity="inventory.item", seq=1)
    refused = client.get(
        "/api/v1/sync/register", params={"cursor": inventory_cursor}, headers=bearer(token)
    )
    assert refused.status_code == 422 and "cursor" in refused.text
    inventory_only = make_token(app, ["inventory:read"])
    assert client.get("/api/v1/sync/register", headers=bearer(inventory_only)).status_code == 403


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


@dataclass(frozen=True)
class Feed:
    """What the concurrency test writes and polls: one tracked table and its sync route."""

    path: str
    scope: str
    state: str  # the key of each change's state in a sync page
    model: type[InventoryItem] | type[RegisterEntry]
    key: str  # a unique column the writers name rows by
    name: str  # the column the writers update
    other: type[InventoryItem] | type[RegisterEntry]  # the other tracked table

    def make(self, key: str, stamp: dt.datetime) -> InventoryItem | RegisterEntry:
        return _make(self.model, key, stamp)


def _make(
    model: type[InventoryItem] | type[RegisterEntry], key: str, stamp: dt.datetime
) -> InventoryItem | RegisterEntry:
    if model is InventoryItem:
        return InventoryItem(
            key=key, name=f"{key} v0", first_seen_at=T0, last_seen_at=T0, updated_at=stamp
        )
    return RegisterEntry(register_id=key, title=f"{key} v0", ai_system="AI", updated_at=stamp)


FEEDS = {
    "inventory": Feed(
        "/api/v1/sync/inventory", "inventory:read", "item", InventoryItem, "key", "name",
        RegisterEntry,
    ),
    "register": Feed(
        "/api/v1/sync/register", "register:read", "entry", RegisterEntry, "register_id",
        "title", InventoryItem,
    ),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("feed_name", sorted(FEEDS))
def test_a_poller_sees_every_change_once_while_writers_commit_out_of_order(
    fresh_database_url: str, tmp_path: Path, feed_name: str
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
        poll_while_writers_commit(engine, app, FEEDS[feed_name])
    finally:
        engine.dispose()
        app.state.shadowmap.engine.dispose()


def poll_while_writers_commit(engine: Engine, app: FastAPI, feed: Feed) -> None:
    """Six writers commit out of order (five on ``feed``'s table, one on the other tracked
    table, so the feed's numbers have gaps) while one poller pages through ``feed``."""
    sessions = make_sessionmaker(engine)
    token = make_token(app, [feed.scope])
    commits: list[tuple[dt.datetime, float]] = []  # (updated_at written, time of commit)
    commits_lock = threading.Lock()
    errors: list[BaseException] = []
    key_column = getattr(feed.model, feed.key)

    def write(session: Session, number: int, step: int, rng: random.Random) -> dt.datetime:
        stamp = utcnow()
        if number == 5:
            # Changes of the other feed take numbers from the same counter.
            session.add(_make(feed.other, f"x{step}", stamp))
        elif step % 3 == 0 or number == 0:
            session.add(feed.make(f"w{number}-{step}", stamp))
        else:
            # Writer 0's rows are never updated: each is one change that a poller must see
            # exactly once (no later update can mask a miss).
            ids = session.scalars(
                select(feed.model.id).where(key_column.not_like("w0-%")).order_by(feed.model.id)
            ).all()
            for row_id in sorted(rng.sample(list(ids), k=min(2, len(ids)))):
                row = session.get(feed.model, row_id, with_for_update=True)
                assert row is not None
                setattr(row, feed.name, f"{getattr(row, feed.key)} v{number}.{step}")
                row.updated_at = stamp
        session.flush()
        # Hold the transaction open: later transactions commit first.
        time.sleep(rng.uniform(0, 0.06 if number == 0 else 0.03))
        return stamp

    def writer(number: int) -> None:
        rng = random.Random(number)
        try:
            for step in range(25):
                for _attempt in range(20):
                    try:
                        with sessions() as session, session.begin():
                            stamp = write(session, number, step, rng)
                        break
                    except StaleDataError:
                        # A register entry's version moved on under us (SQLite reads outside
                        # the write lock): retry, as an optimistic-locking client does.
                        continue
                if number != 5:
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
            answer = client.get(feed.path, params=params, headers=bearer(token))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            received.extend(body["changes"])
            return body["next_cursor"], body["has_more"]

        # A first poll before the writers start: it records the token's first use (a write),
        # which on SQLite would otherwise queue behind six busy writers.
        cursor: str | None = poll_once(None)[0]
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        polls = 0
        while any(thread.is_alive() for thread in threads):
            cursor, _ = poll_once(cursor)
            polls += 1
            time.sleep(0.001)
        for thread in threads:
            thread.join()
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
        last_seen[change["id"]] = change[feed.state][feed.name]
    with sessions() as session:
        final = {row.id: getattr(row, feed.name) for row in session.scalars(select(feed.model))}
    assert last_seen == final  # every row's newest state arrived; nothing missed
    create_only = [
        change[feed.state][feed.key]
        for change in received
        if change[feed.state][feed.key].startswith("w0-")
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
                f"trg_{table}_change_{operation}"
                for table in ("inventory_items", "register_entries")
                for operation in ("insert", "update", "delete")
            } <= names
        else:
            names = set(
                connection.execute(
                    text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
                ).scalars()
            )
            assert {"trg_inventory_items_change", "trg_register_entries_change"} <= names
