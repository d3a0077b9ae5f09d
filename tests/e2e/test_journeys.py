"""The main journeys in real Chromium: sign in, triage an item, promote it, approve the entry,
see it on the dashboard; a hostile extension name stays inert. Saves screenshots of the
dashboard, the triage queue and a register entry (into $SCREENSHOT_DIR when set)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from collector.db import make_engine, make_sessionmaker, transaction
from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer
from tests.e2e.seed_register import HOSTILE, seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    # Read before the autouse fixture scrubs the environment.
    return SCREENSHOTS


def _seed(server: LiveServer) -> None:
    engine = make_engine(f"sqlite:///{(server.data_dir / 'shadowmap.db').resolve()}")
    with transaction(make_sessionmaker(engine)) as session:
        seed(session, server.enrollment_token())
    engine.dispose()


def test_triage_promote_approve_and_see_it_on_the_dashboard(
    live_server: LiveServer, page: object, tmp_path: Path, screenshot_dir: str | None
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _seed(live_server)
    shots = Path(screenshot_dir) if screenshot_dir else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    url = live_server.url

    # Sign in.
    page.goto(f"{url}/triage")
    expect(page).to_have_url(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Draft AI inventory")).to_be_visible()

    # The triage queue, with the hostile extension name rendered as text.
    page.get_by_role("link", name="Triage", exact=True).click()
    expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    expect(page.get_by_role("link", name="Triage", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("link", name=HOSTILE)).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(shots / "triage-queue.png"), full_page=True)

    # Filter by evidence kind, then triage ChatGPT.
    page.get_by_label("Evidence").select_option("process")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="ChatGPT").click()
    expect(page.get_by_role("heading", name="ChatGPT")).to_be_visible()
    page.get_by_label("Assign to").select_option("admin")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator(".page-head .state")).to_have_text("triaging")
    page.get_by_label("Add a comment").fill("Finance uses it for supplier emails.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator(".comment")).to_contain_text("supplier emails")

    # Promote it to the register.
    page.get_by_label("Title").fill("ChatGPT — finance drafting")
    page.get_by_label("Business unit").fill("Finance")
    page.get_by_label("Purpose", exact=True).fill("Drafting supplier emails")
    page.get_by_role("button", name="Promote").click()
    expect(page).to_have_url(re.compile(r"/register/AIR-\d{4}-\d{4}\?saved=promoted$"))
    expect(page.get_by_role("status")).to_have_text("Item promoted to this entry.")
    register_id = page.url.split("?")[0].rsplit("/", 1)[1]
    expect(page.locator(".checklist")).to_contain_text("business owner is required")

    # Approving too soon: the same page, the refusal beside the decision in plain words with a
    # link to the field to fix, and the rationale as it was typed.
    page.get_by_label("Decision", exact=True).select_option("approved")
    page.get_by_label("Rationale", exact=True).fill("Enterprise workspace with a DPA.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("alert")).to_contain_text("The decision was not recorded")
    refusal = page.locator("#decision-error")
    expect(refusal).to_contain_text("a business owner is required before approval")
    expect(page.get_by_label("Decision", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Rationale", exact=True)).to_have_value(
        "Enterprise workspace with a DPA."
    )
    refusal.get_by_role("link", name="Go to business owner").click()
    expect(page.get_by_label("Business owner")).to_be_visible()

    # Complete the record, then approve.
    page.get_by_label("Business owner").fill("Dana Whitfield")
    page.get_by_label("Risk level").select_option("medium")
    page.get_by_label("Risk rationale").fill("Internal correspondence only; no customer data.")
    page.get_by_label("Internal", exact=True).check()
    page.get_by_label("Supplier review").select_option("approved")
    page.get_by_label("EU AI Act class").select_option("minimal")
    page.get_by_role("button", name="Save record").click()
    expect(page.get_by_role("status")).to_have_text("Changes saved.")
    expect(page.locator(".ok-note")).to_have_text("All approval guards pass.")
    page.get_by_label("Decision", exact=True).select_option("approved")
    page.get_by_label("Rationale", exact=True).fill(
        "Enterprise workspace with a DPA; low exposure."
    )
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_have_text("Decision recorded.")
    expect(page.get_by_role("heading", name="Decision: approved")).to_be_visible()
    expect(page.locator(".history")).to_contain_text("entry.approved")
    page.screenshot(path=str(shots / "register-entry.png"), full_page=True)

    # It shows on the register and on the dashboard.
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page.locator("tr", has_text=register_id)).to_contain_text("approved")
    page.get_by_role("link", name="Dashboard").click()
    approved = page.locator(".kpi", has_text="approved").first
    expect(approved.locator(".kpi-value")).to_have_text("2")  # the seeded one and ours
    trend = page.locator("section[aria-labelledby=trend-title] svg.bars rect.bar")
    expect(trend).to_have_count(12)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    # The audit trail records it, with the chain intact.
    page.get_by_role("link", name="Audit trail").click()
    expect(page.locator("tr", has_text="entry.approved").first).to_contain_text("admin")
    assert dialogs == [] and page.evaluate("window.__pwned") is None


def test_a_viewer_sees_no_edit_controls(live_server: LiveServer, page: object) -> None:
    from playwright.sync_api import Page, expect

    from tests.e2e.conftest import run_cli

    assert isinstance(page, Page)
    _seed(live_server)
    run_cli(
        "server",
        "user",
        "create",
        "--username",
        "auditor",
        "--role",
        "viewer",
        "--password",
        "auditor password 1",
        "--data-dir",
        str(live_server.data_dir),
    )
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("auditor")
    page.get_by_label("Password").fill("auditor password 1")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/triage")
    expect(page.get_by_role("button", name="Review and apply…")).to_have_count(0)
    expect(page.locator("#main-nav").get_by_role("link", name="Users")).to_have_count(0)
    page.get_by_role("link", name="Register", exact=True).click()
    page.locator("a.mono").first.click()
    expect(page.get_by_role("button", name="Record decision")).to_have_count(0)
    expect(page.get_by_label("Title")).to_be_disabled()
