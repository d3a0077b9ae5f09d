"""The connector against what the real CISO Assistant (3.20.x) does and the stand-in now does
too: links on evidence revisions, folder roles, drift, read-back, risk scenarios, TPRM
entities, and a server that fails, answers late or pages oddly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker, upgrade
from server.integrations.ciso_assistant import (
    CisoAssistantClient,
    CisoAssistantConfig,
    CisoAssistantConnector,
    PushReport,
)
from server.integrations.errors import RemoteMalformed, RemoteUnavailable
from tests.server.integrations.ciso_standin import Fault, StandIn, serve
from tests.server.integrations.test_ciso_assistant import (
    PUBLIC_URL,
    TOKEN,
    by_name,
    by_ref,
    decide,
    edit,
    entry,
    links,
    move,
)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'shadowmap.db'}")
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


def push(
    api_url: str,
    sessions: sessionmaker[Session],
    folder: str,
    *,
    public_url: str | None = PUBLIC_URL,
    risk_assessment: str | None = None,
    on_drift: str = "keep",
    timeout: float = 30.0,
    max_attempts: int = 3,
    page_size: int = 2,
    dry_run: bool = False,
) -> PushReport:
    config = CisoAssistantConfig(
        api_url=api_url,
        token=SecretStr(TOKEN),
        folder_id=folder,
        timeout_seconds=timeout,
        max_attempts=max_attempts,
    )
    client = CisoAssistantClient(config, backoff_seconds=0.001, page_size=page_size)
    connector = CisoAssistantConnector(
        client,
        sessions,
        folder_id=folder,
        public_url=public_url,
        risk_assessment_id=risk_assessment,
        on_drift=on_drift,
    )
    try:
        return connector.push(dry_run=dry_run)
    finally:
        connector.close()


def actions(report: PushReport, action: str) -> list[tuple[str | None, str]]:
    return [(a.object_type, a.local_id) for a in report.actions if a.action == action]


def api(api_url: str, method: str, path: str, **body: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{api_url}/{path}",
        json=body or None,
        headers={"Authorization": f"Token {TOKEN}"},
    )


# Evidence links --------------------------------------------------------------------------------


def test_a_changed_evidence_link_becomes_a_new_revision(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", evidence_links=["https://wiki.example.com/v1"])
    push(api_url, sessions, folder)
    evidence = by_name(standin, "evidences")[f"{register_id} evidence 1"]
    before = len(standin.writes())

    edit(sessions, register_id, evidence_links=["https://wiki.example.com/v2"])
    report = push(api_url, sessions, folder)

    assert standin.link_of(evidence["id"]) == "https://wiki.example.com/v2"
    # The link went out as revision 2, never as a PATCH of the evidence (which CISO
    # Assistant answers 200 while keeping the old link).
    new_writes = standin.writes()[before:]
    assert ("POST", "/api/evidence-revisions/") in new_writes
    revisions = sorted(
        row["version"]
        for row in standin.objects["evidence-revisions"].values()
        if row["evidence"] == evidence["id"]
    )
    assert revisions == [1, 2]
    # CISO Assistant puts an evidence with a new revision back in review.
    assert standin.objects["evidences"][evidence["id"]]["status"] == "in_review"
    assert ("evidence", f"{register_id}/evidence/1") in actions(report, "updated")
    # Stored as sent: the next push writes nothing.
    before = len(standin.writes())
    assert not push(api_url, sessions, folder).failures
    assert standin.writes()[before:] == []


def test_without_a_public_url_no_null_link_is_sent(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", controls="MFA")

    report = push(api_url, sessions, folder, public_url=None)

    assert report.failures == []
    decision = by_name(standin, "evidences")[f"{register_id} decision record"]
    assert standin.link_of(decision["id"]) is None
    assert by_ref(standin, "assets")[register_id]["reference_link"] is None


def test_a_write_that_reads_back_differently_is_an_error_and_is_tried_again(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved")
    push(api_url, sessions, folder)
    # A CISO Assistant that answers 200 to a PATCH of the description and keeps the old one.
    standin.ignored_on_update.add(("assets", "description"))
    edit(sessions, register_id, purpose="Drafting and translating")

    report = push(api_url, sessions, folder)

    [failed] = report.failures
    assert (failed.object_type, failed.local_id) == ("asset", register_id)
    assert "reads back differently" in failed.detail
    assert "description: sent 'Drafting and translating', stored 'Drafting marketing copy'" in (
        failed.detail
    )
    # Not recorded as done: the next push sends it again.
    standin.ignored_on_update.clear()
    report = push(api_url, sessions, folder)
    assert ("asset", register_id) in actions(report, "updated") and not report.failures
    assert by_ref(standin, "assets")[register_id]["description"] == "Drafting and translating"


# Folder roles ----------------------------------------------------------------------------------


def test_a_folder_the_user_may_not_write_is_a_role_problem_and_the_push_goes_on(
    api_url: str, standin: StandIn, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", controls="MFA")
    folder = standin.add_folder("AI register")
    standin.write_folders = set()  # the token's user holds no role there yet

    report = push(api_url, sessions, folder)

    assert actions(report, "failed") == [("asset", register_id)]
    [failed] = report.failures
    assert f"HTTP 403 in folder {folder}" in failed.detail
    assert "the token was accepted" in failed.detail and "Analyst role" in failed.detail
    assert "check the token setting" not in failed.detail

    standin.give_role(folder, "Analyst")
    report = push(api_url, sessions, folder)
    assert report.failures == [] and len(standin.objects["assets"]) == 1


# Drift -----------------------------------------------------------------------------------------


def test_an_edit_in_ciso_assistant_is_reported_and_kept(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved")
    push(api_url, sessions, folder)
    asset = by_ref(standin, "assets")[register_id]
    standin.edit("assets", asset["id"], description="Edited by the GRC team")
    before = len(standin.writes())

    for _ in range(2):  # reported at every push until someone settles it
        report = push(api_url, sessions, folder)
        [drift] = [a for a in report.actions if a.action == "drift"]
        assert (drift.object_type, drift.local_id) == ("asset", register_id)
        assert drift.detail == (
            "edited in CISO Assistant: description; kept (ciso_assistant_on_drift=keep)"
        )
        assert not report.failures
    assert standin.writes()[before:] == []
    assert standin.objects["assets"][asset["id"]]["description"] == "Edited by the GRC team"


def test_an_edit_in_ciso_assistant_is_overwritten_when_so_set(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved", controls="MFA")
    push(api_url, sessions, folder)
    control = by_ref(standin, "applied-controls")[f"{register_id}-C1"]
    standin.edit("applied-controls", control["id"], name="MFA (renamed)", status="active")

    report = push(api_url, sessions, folder, on_drift="overwrite")

    assert actions(report, "drift") == [("applied_control", f"{register_id}/control/1")]
    assert "overwritten with Shadowmap's values" in report.actions[-1].detail or any(
        "overwritten" in a.detail for a in report.actions if a.action == "drift"
    )
    stored = standin.objects["applied-controls"][control["id"]]
    # The name is Shadowmap's again; the status is CISO Assistant's and is never compared.
    assert stored["name"] == "MFA" and stored["status"] == "active"
    report = push(api_url, sessions, folder, on_drift="overwrite")
    assert actions(report, "drift") == [] and actions(report, "updated") == []


def test_a_field_edited_on_both_sides_takes_shadowmaps_newer_value(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    register_id = entry(sessions, "approved")
    push(api_url, sessions, folder)
    asset = by_ref(standin, "assets")[register_id]
    standin.edit("assets", asset["id"], description="Edited by the GRC team")
    edit(sessions, register_id, purpose="Drafting and translating")

    report = push(api_url, sessions, folder)

    [drift] = [a for a in report.actions if a.action == "drift"]
    assert "edited in CISO Assistant and since changed in Shadowmap: description" in drift.detail
    assert standin.objects["assets"][asset["id"]]["description"] == "Drafting and translating"


# Risk scenarios and third parties ----------------------------------------------------------


def test_risk_scenarios_follow_the_entries_risk_and_decision(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    assessment = standin.add_risk_assessment("AI risks 2026", folder)
    approved = entry(
        sessions, "approved", controls="MFA", risk_level="medium", risk_rationale="Drafts only"
    )
    restricted = entry(sessions, "restricted", title="Notes helper", conditions="No PII")

    report = push(api_url, sessions, folder, risk_assessment=assessment)

    assert report.failures == []
    scenarios = by_ref(standin, "risk-scenarios")
    assert set(scenarios) == {approved, restricted}
    assert scenarios[restricted]["treatment"] == "mitigate"
    scenario = scenarios[approved]
    assert scenario["name"] == f"{approved} ChatGPT for drafting"
    assert scenario["risk_assessment"] == assessment and scenario["folder"] == folder
    assert scenario["treatment"] == "accept" and scenario["justification"] == "Drafts only"
    assert scenario["assets"] == [by_ref(standin, "assets")[approved]["id"]]
    assert scenario["existing_applied_controls"] == [
        by_ref(standin, "applied-controls")[f"{approved}-C1"]["id"]
    ]
    assert "Risk level in Shadowmap: medium" in scenario["description"]
    # Probability and impact are rated in CISO Assistant's matrix, never sent.
    assert scenario["current_proba"] == -1

    move(sessions, approved, "under_review")
    decide(sessions, approved, "prohibited")
    push(api_url, sessions, folder, risk_assessment=assessment)
    assert standin.objects["risk-scenarios"][scenario["id"]]["treatment"] == "avoid"


def test_suppliers_become_one_entity_each_and_an_existing_one_is_adopted(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    api(api_url, "POST", "entities/", name="openai", folder=folder).raise_for_status()
    entry(sessions, "approved", supplier="OpenAI")
    entry(sessions, "approved", title="ChatGPT for support", supplier="OpenAI")
    entry(sessions, "approved", title="Claude", supplier="Anthropic")

    report = push(api_url, sessions, folder)

    names = sorted(row["name"] for row in standin.objects["entities"].values())
    assert names == ["Anthropic", "openai"] or names == ["Anthropic", "OpenAI"]
    assert actions(report, "adopted") == [("entity", "supplier/openai")]
    assert standin.writes().count(("POST", "/api/entities/")) == 2  # the test's + Anthropic
    assert ("entity", "supplier/anthropic") in links(sessions)


# A server that fails, answers late or pages oddly ------------------------------------------


@pytest.mark.slow
def test_a_server_that_answers_too_late_is_retried_then_reported(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    entry(sessions, "approved")
    standin.faults.append(Fault("POST", "/api/assets/", count=1, delay=1.5))

    report = push(api_url, sessions, folder, timeout=0.5, max_attempts=3)
    assert report.failures == [] and len(standin.objects["assets"]) <= 2

    standin.faults.append(Fault("GET", "/api/folders/", count=5, delay=1.5))
    with pytest.raises(RemoteUnavailable, match="2 attempt\\(s\\): ReadTimeout"):
        push(api_url, sessions, folder, timeout=0.3, max_attempts=2)


@pytest.mark.parametrize("quirk", ["shift", "skip", "absolute_next"])
def test_odd_pagination_neither_duplicates_nor_loses_objects(
    quirk: str, api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    for number in range(3):
        entry(sessions, "approved", title=f"Tool {number}", controls="MFA\nSSO")
    push(api_url, sessions, folder)
    counts = {name: len(rows) for name, rows in standin.objects.items()}
    standin.quirks.add(quirk)

    report = push(api_url, sessions, folder)

    assert {name: len(rows) for name, rows in standin.objects.items()} == counts
    assert report.failures == [] and actions(report, "created") == []
    assert actions(report, "recreated") == []


def test_a_listing_whose_pages_do_not_advance_stops_the_push(
    api_url: str, standin: StandIn, folder: str, sessions: sessionmaker[Session]
) -> None:
    for number in range(3):
        entry(sessions, "approved", title=f"Tool {number}")
    push(api_url, sessions, folder)
    standin.quirks.add("repeat_next")

    with pytest.raises(RemoteMalformed, match="repeats"):
        push(api_url, sessions, folder)
