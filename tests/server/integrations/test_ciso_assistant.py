"""The CISO Assistant connector against the stand-in over real HTTP, on SQLite and PostgreSQL:
what a push creates, that it is idempotent, and how it fails."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store import external_links
from collector.store import register as register_store
from server.integrations.ciso_assistant import (
    SYSTEM,
    CisoAssistantClient,
    CisoAssistantConfig,
    CisoAssistantConnector,
    PushReport,
    split_lines,
)
from server.integrations.errors import RemoteAuthFailed, RemoteRejected, RemoteUnavailable
from server.register import service
from server.register.schemas import EntryInput
from tests.server.integrations.ciso_standin import Fault, StandIn, serve

TOKEN = "k" * 64
PUBLIC_URL = "https://shadowmap.example.com"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated database of the test's own; the connector commits, so no rollback here."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shadowmap.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def standin() -> StandIn:
    return StandIn(token=TOKEN, page_size=100)


@pytest.fixture
def api_url(standin: StandIn) -> Iterator[str]:
    with serve(standin) as url:
        yield url


@pytest.fixture
def folder(standin: StandIn) -> str:
    return standin.add_folder("AI register")


def make_connector(
    api_url: str,
    sessions: sessionmaker[Session],
    folder: str,
    *,
    token: str = TOKEN,
    max_attempts: int = 3,
) -> CisoAssistantConnector:
    config = CisoAssistantConfig(
        api_url=api_url,
        token=SecretStr(token),
        folder_id=folder,
        public_url=PUBLIC_URL,
        max_attempts=max_attempts,
    )
    # A page of 2 makes every listing follow `next`.
    client = CisoAssistantClient(config, backoff_seconds=0.001, page_size=2)
    return CisoAssistantConnector(client, sessions, folder_id=folder, public_url=PUBLIC_URL)


def push(api_url: str, sessions: sessionmaker[Session], folder: str, **options: Any) -> PushReport:
    dry_run = bool(options.pop("dry_run", False))
    connector = make_connector(api_url, sessions, folder, **options)
    try:
        return connector.push(dry_run=dry_run)
    finally:
        connector.close()


def entry(sessions: sessionmaker[Session], decision: str | None, **fields: Any) -> str:
    """Create a register entry through the service and, if given, decide it."""
    values: dict[str, Any] = {
        "title": "ChatGPT for drafting",
        "ai_system": "ChatGPT",
        "business_unit": "Marketing",
        "business_owner": "Dana",
        "technical_owner": "Tom",
        "purpose": "Drafting marketing copy",
        "risk_level": "low",
        "supplier": "OpenAI",
        **fields,
    }
    conditions = values.pop("conditions", "")
    with transaction(sessions) as session:
        register_id = service.create_entry(
            session, actor="rita", fields=EntryInput(**values)
        ).register_id
        if decision:
            service.decide_entry(
                session,
                actor="rita",
                register_id=register_id,
                expected_version=1,
                decision=decision,
                rationale="fits the acceptable-use policy",
                conditions=conditions,
                today=dt.date(2026, 11, 28),
            )
    return register_id


def edit(sessions: sessionmaker[Session], register_id: str, **changes: Any) -> None:
    with transaction(sessions) as session:
        current = register_store.get_register_entry(session, register_id=register_id)
        fields = {name: getattr(current, name) for name in EntryInput.model_fields}
        service.update_entry(
            session,
            actor="rita",
            register_id=register_id,
            expected_version=current.version,
            fields=EntryInput(**{**fields, **changes}),
        )


def move(sessions: sessionmaker[Session], register_id: str, target: str) -> None:
    with transaction(sessions) as session:
        current = register_store.get_register_entry(session, register_id=register_id)
        service.move_entry(
            session,
            actor="rita",
            register_id=register_id,
            expected_version=current.version,
            target=target,
            reason="test",
        )


def links(sessions: sessionmaker[Session]) -> dict[tuple[str, str], tuple[str, str]]:
    with transaction(sessions) as session:
        return {
            (link.object_type, link.local_id): (link.remote_id, link.state)
            for link in external_links.list_external_links(session, system=SYSTEM)
        }


def by_ref(standin: StandIn, collection: str) -> dict[str, dict[str, Any]]:
    return {row["ref_id"]: row for row in standin.objects[collection].values()}


def by_name(standin: StandIn, collection: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in standin.objects[collection].values()}


@pytest.fixture
def register(sessions: sessionmaker[Session]) -> dict[str, str]:
    """An approved entry, a restricted one, one under review and one prohibited."""
    return {
        "approved": entry(
            sessions,
            "approved",
            controls="- MFA on every account\n- No customer data in prompts\n",
            evidence_links=["https://wiki.example.com/ai/openai-dpa"],
        ),
        "restricted": entry(
            sessions,
            "restricted",
            title="Copilot for code",
            ai_system="GitHub Copilot",
            business_unit="Engineering",
            controls="SSO only",
            conditions="1. Internal repositories only\n2. Human review of every suggestion",
            risk_level="medium",
        ),
        "under_review": entry(sessions, None, title="Claude for support"),
        "prohibited": entry(sessions, "prohibited", title="DeepSeek chat"),
    }


def test_first_push_creates_the_objects_with_their_fields_and_keeps_the_ids(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    report = push(api_url, sessions, folder)

    approved, restricted = register["approved"], register["restricted"]
    assets = by_ref(standin, "assets")
    assert set(assets) == {approved, restricted}
    asset = assets[approved]
    assert asset["name"] == "ChatGPT for drafting"
    assert asset["type"] == "PR"
    assert asset["folder"] == folder
    assert asset["description"] == "Drafting marketing copy"
    assert asset["reference_link"] == f"{PUBLIC_URL}/register/{approved}"
    assert f"Governed in Shadowmap as {approved} (status: approved)" in asset["observation"]
    assert "Business owner: Dana; technical owner: Tom" in asset["observation"]
    assert "Business unit: Marketing" in asset["observation"]

    controls = by_ref(standin, "applied-controls")
    assert set(controls) == {
        f"{approved}-C1",
        f"{approved}-C2",
        f"{restricted}-C1",
        f"{restricted}-R1",
        f"{restricted}-R2",
    }
    mfa = controls[f"{approved}-C1"]
    assert mfa["name"] == "MFA on every account"
    assert mfa["status"] == "to_do" and mfa["category"] is None
    assert mfa["assets"] == [asset["id"]] and mfa["folder"] == folder
    assert mfa["link"] == f"{PUBLIC_URL}/register/{approved}"
    condition = controls[f"{restricted}-R2"]
    assert condition["name"] == "Human review of every suggestion"
    assert condition["category"] == "policy"
    assert condition["assets"] == [assets[restricted]["id"]]

    evidences = by_name(standin, "evidences")
    assert set(evidences) == {
        f"{approved} decision record",
        f"{approved} evidence 1",
        f"{restricted} decision record",
    }
    decision = evidences[f"{approved} decision record"]
    assert decision["expiry_date"] == "2027-11-28"  # the next review date
    assert "Rationale: fits the acceptable-use policy" in decision["description"]
    assert set(decision["applied_controls"]) == {
        controls[f"{approved}-C1"]["id"],
        controls[f"{approved}-C2"]["id"],
    }
    evidence = evidences[f"{approved} evidence 1"]
    # The link is on the evidence's first revision, as in CISO Assistant 3.x.
    assert standin.link_of(evidence["id"]) == "https://wiki.example.com/ai/openai-dpa"
    assert "Internal repositories only" in evidences[f"{restricted} decision record"]["description"]
    # The relation is the same seen from the control.
    assert decision["id"] in controls[f"{approved}-C1"]["evidences"]

    # The supplier became a third-party entity, once for both entries.
    assert [row["name"] for row in standin.objects["entities"].values()] == ["OpenAI"]

    # Every id came back and is kept; nothing of the other two entries went out.
    stored = links(sessions)
    remote = {
        row["id"]
        for collection, rows in standin.objects.items()
        if collection != "evidence-revisions"
        for row in rows.values()
    }
    assert {remote_id for remote_id, _ in stored.values()} == remote
    assert stored[("asset", approved)] == (asset["id"], "active")
    assert stored[("applied_control", f"{restricted}/condition/2")][0] == condition["id"]
    assert not any(
        register[name] in local_id
        for name in ("under_review", "prohibited")
        for _, local_id in stored
    )
    assert report.count("created") == len(remote) == 11
    assert {method for method, _ in standin.writes()} == {"POST"}


def test_second_push_only_reads(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    writes = len(standin.writes())
    seen = len(standin.requests)

    report = push(api_url, sessions, folder)

    assert len(standin.writes()) == writes
    assert report.count("skipped") == 11 and len(report.actions) == 11
    second = standin.requests[seen:]
    assert {method for method, _ in second} == {"GET"}
    # The folder check, then every page of the three listings (pages of 2).
    assert second[0] == ("GET", f"/api/folders/{folder}/")
    assert second.count(("GET", "/api/applied-controls/")) == 3


def test_editing_an_entry_patches_exactly_its_asset(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    asset_id = by_ref(standin, "assets")[register["approved"]]["id"]
    before = len(standin.writes())

    edit(sessions, register["approved"], purpose="Drafting and translating marketing copy")
    report = push(api_url, sessions, folder)

    assert standin.writes()[before:] == [("PATCH", f"/api/assets/{asset_id}/")]
    assert standin.objects["assets"][asset_id]["description"] == (
        "Drafting and translating marketing copy"
    )
    assert [(a.action, a.local_id) for a in report.actions if a.action != "skipped"] == [
        ("updated", register["approved"])
    ]


def test_a_control_status_set_in_ciso_assistant_is_not_overwritten(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    control = by_ref(standin, "applied-controls")[f"{register['approved']}-C1"]
    httpx.patch(
        f"{api_url}/applied-controls/{control['id']}/",
        json={"status": "active"},
        headers={"Authorization": f"Token {TOKEN}"},
    ).raise_for_status()

    edit(sessions, register["approved"], controls="- MFA on every account (hardware keys)\n")
    push(api_url, sessions, folder)

    assert control["id"] in standin.objects["applied-controls"]
    updated = standin.objects["applied-controls"][control["id"]]
    assert updated["name"] == "MFA on every account (hardware keys)"
    assert updated["status"] == "active"
    # The control that left the entry's text is deprecated, not deleted.
    removed = by_ref(standin, "applied-controls")[f"{register['approved']}-C2"]
    assert removed["status"] == "deprecated"
    assert links(sessions)[("applied_control", f"{register['approved']}/control/2")][1] == (
        "withdrawn"
    )


def test_an_object_deleted_in_ciso_assistant_is_created_again(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    old_id = by_ref(standin, "assets")[register["approved"]]["id"]
    httpx.delete(
        f"{api_url}/assets/{old_id}/", headers={"Authorization": f"Token {TOKEN}"}
    ).raise_for_status()
    before = len(standin.writes())

    report = push(api_url, sessions, folder)

    new_id = by_ref(standin, "assets")[register["approved"]]["id"]
    assert new_id != old_id
    assert links(sessions)[("asset", register["approved"])] == (new_id, "active")
    assert [a.action for a in report.actions if a.local_id == register["approved"]] == ["recreated"]
    # Its two controls point at the new asset again; nothing else was written.
    control_ids = [
        row["id"]
        for row in standin.objects["applied-controls"].values()
        if row["ref_id"].startswith(register["approved"])
    ]
    assert sorted(standin.writes()[before:]) == sorted(
        [("POST", "/api/assets/")] + [("PATCH", f"/api/applied-controls/{c}/") for c in control_ids]
    )
    assert all(standin.objects["applied-controls"][c]["assets"] == [new_id] for c in control_ids)


def test_an_object_deleted_between_listing_and_patch_is_created_again(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    old_id = by_ref(standin, "assets")[register["approved"]]["id"]
    edit(sessions, register["approved"], purpose="Drafting and translating")

    def delete_first(method: str, path: str) -> None:
        if (method, path) == ("PATCH", f"/api/assets/{old_id}/"):
            standin.delete("assets", old_id)

    standin.hooks.append(delete_first)
    before = len(standin.writes())
    report = push(api_url, sessions, folder)

    new = by_ref(standin, "assets")[register["approved"]]
    assert new["id"] != old_id and new["description"] == "Drafting and translating"
    assert standin.writes()[before : before + 2] == [
        ("PATCH", f"/api/assets/{old_id}/"),
        ("POST", "/api/assets/"),
    ]
    assert [a.action for a in report.actions if a.local_id == register["approved"]] == ["recreated"]
    assert links(sessions)[("asset", register["approved"])] == (new["id"], "active")


def test_server_errors_are_retried_then_reported_and_finished_work_is_kept(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    standin.faults.append(Fault("POST", "/api/applied-controls/", status=500, count=100))

    with pytest.raises(RemoteUnavailable) as raised:
        push(api_url, sessions, folder, max_attempts=3)

    message = str(raised.value)
    assert f"applied control {register['approved']}/control/1" in message
    assert "3 attempt(s)" in message and "HTTP 500" in message
    assert standin.requests.count(("POST", "/api/applied-controls/")) == 3
    # The asset created before the failure is known, so the next push does not duplicate it.
    asset_id = by_ref(standin, "assets")[register["approved"]]["id"]
    entity_id = next(iter(standin.objects["entities"]))
    assert links(sessions) == {
        ("asset", register["approved"]): (asset_id, "active"),
        ("entity", "supplier/openai"): (entity_id, "active"),
    }

    standin.faults.clear()
    report = push(api_url, sessions, folder)
    assert len(standin.objects["assets"]) == 2
    assert [a.action for a in report.actions if a.local_id == register["approved"]] == ["skipped"]
    assert report.count("created") == 9 and len(standin.objects["entities"]) == 1


def test_a_passing_outage_is_ridden_out(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    standin.faults.append(Fault("POST", "/api/assets/", status=503, count=2))

    report = push(api_url, sessions, folder, max_attempts=3)

    assert report.count("created") == 11
    assert standin.requests.count(("POST", "/api/assets/")) == 4  # 2 failed + 2 entries
    assert len(standin.objects["assets"]) == 2


def test_a_wrong_token_is_a_clear_error_that_does_not_show_the_token(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "w" * 64
    caplog.set_level(logging.DEBUG)

    with pytest.raises(RemoteAuthFailed) as raised:
        push(api_url, sessions, folder, token=wrong)

    assert raised.value.status == 401
    assert "Invalid token" in str(raised.value) and "token" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in caplog.text
    assert standin.writes() == [] and links(sessions) == {}


def test_a_refused_object_is_reported_and_the_push_goes_on(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    approved = register["approved"]
    # Someone in CISO Assistant already has an evidence of that name in the folder: names
    # are unique per folder there, so CISO Assistant refuses ours with a 400.
    httpx.post(
        f"{api_url}/evidences/",
        json={"name": f"{approved} decision record", "folder": folder},
        headers={"Authorization": f"Token {TOKEN}"},
    ).raise_for_status()

    report = push(api_url, sessions, folder)

    [failed] = report.failures
    assert (failed.object_type, failed.local_id) == ("evidence", f"{approved}/decision")
    assert "HTTP 400" in failed.detail and "already used in this scope" in failed.detail
    assert failed.describe(dry_run=False).startswith(f"failed evidence {approved}/decision")
    # Everything else went through, the other entry included.
    assert report.count("created") == 10
    assert ("evidence", f"{approved}/evidence/1") in links(sessions)
    assert ("asset", register["restricted"]) in links(sessions)
    assert ("evidence", f"{approved}/decision") not in links(sessions)


def test_a_link_that_ciso_assistant_would_refuse_is_not_sent(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", evidence_links=["https://wiki.example.com/x"])
    # A host name without a dot: Django's URL check refuses it, so the connector does not
    # send it (the settings refuse such a public URL; a connector built by hand is checked).
    config = CisoAssistantConfig(
        api_url=api_url, token=SecretStr(TOKEN), folder_id=folder, max_attempts=1
    )
    connector = CisoAssistantConnector(
        CisoAssistantClient(config, backoff_seconds=0.001),
        sessions,
        folder_id=folder,
        public_url="http://shadowmap:8000",
    )
    try:
        report = connector.push()
    finally:
        connector.close()

    [failed] = report.failures
    assert failed.local_id == register_id and failed.object_type == "asset"
    assert "reference_link 'http://shadowmap:8000/register/" in failed.detail
    assert "Enter a valid URL." in failed.detail
    assert standin.writes() == []


def test_an_unknown_folder_is_refused_before_anything_is_written(
    api_url: str, standin: StandIn, sessions: sessionmaker[Session], register: dict[str, str]
) -> None:
    missing = "0b7d6a54-1f0e-4f39-9a55-2b5f0c8d0e11"
    with pytest.raises(RemoteRejected, match="ciso_assistant_folder_id"):
        push(api_url, sessions, missing)
    assert standin.writes() == []


def test_entries_that_leave_the_approved_states_are_marked_never_deleted(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    push(api_url, sessions, folder)
    approved, restricted = register["approved"], register["restricted"]
    move(sessions, approved, "retired")
    move(sessions, restricted, "review_due")

    report = push(api_url, sessions, folder)

    assert len(standin.objects["assets"]) == 2
    assert len(standin.objects["applied-controls"]) == 5
    asset = by_ref(standin, "assets")[approved]
    assert asset["observation"].startswith(f"WITHDRAWN in Shadowmap: {approved} is now retired")
    controls = by_ref(standin, "applied-controls")
    assert controls[f"{approved}-C1"]["status"] == "deprecated"
    # A review that is due holds the entry as it was: still sanctioned until decided.
    assert controls[f"{restricted}-C1"]["status"] == "to_do"
    assert "WITHDRAWN" not in by_ref(standin, "assets")[restricted]["observation"]
    assert [(a.action, a.local_id) for a in report.actions if a.action == "held"] == [
        ("held", restricted)
    ]
    assert links(sessions)[("asset", approved)][1] == "withdrawn"

    before = len(standin.writes())
    push(api_url, sessions, folder)
    assert standin.writes()[before:] == []


def test_an_entry_under_review_or_prohibited_is_never_pushed(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    entry(sessions, None, title="Claude for support")
    entry(sessions, "prohibited", title="DeepSeek chat")

    report = push(api_url, sessions, folder)

    assert report.actions == [] and standin.writes() == [] and links(sessions) == {}


def test_a_dry_run_only_reads_and_stores_nothing(
    api_url: str,
    standin: StandIn,
    folder: str,
    sessions: sessionmaker[Session],
    register: dict[str, str],
) -> None:
    report = push(api_url, sessions, folder, dry_run=True)

    assert standin.writes() == [] and links(sessions) == {}
    assert report.count("created") == 11
    assert report.actions[0].describe(dry_run=True) == f"would create asset {register['approved']}"
    assert report.summary().startswith("CISO Assistant push (dry run): 11 created")


def test_lines_of_a_free_text_list_become_items() -> None:
    text = "- one\n* two\n\n3) three\n4. four\n  • five  \n"
    assert split_lines(text) == ["one", "two", "three", "four", "five"]


def decide(sessions: sessionmaker[Session], register_id: str, decision: str) -> None:
    with transaction(sessions) as session:
        current = register_store.get_register_entry(session, register_id=register_id)
        service.decide_entry(
            session,
            actor="rita",
            register_id=register_id,
            expected_version=current.version,
            decision=decision,
            rationale="re-reviewed",
        )


def test_a_use_prohibited_then_approved_again_gets_its_controls_back(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", controls="MFA")
    push(api_url, sessions, folder)
    move(sessions, register_id, "under_review")
    decide(sessions, register_id, "prohibited")
    push(api_url, sessions, folder)
    control = by_ref(standin, "applied-controls")[f"{register_id}-C1"]
    assert control["status"] == "deprecated"

    move(sessions, register_id, "under_review")
    decide(sessions, register_id, "approved")
    report = push(api_url, sessions, folder)

    assert standin.objects["applied-controls"][control["id"]]["status"] == "to_do"
    observation = by_ref(standin, "assets")[register_id]["observation"]
    assert observation.startswith(f"Governed in Shadowmap as {register_id} (status: approved)")
    assert report.count("created") == 0 and len(standin.objects["assets"]) == 1
