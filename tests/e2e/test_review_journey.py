"""The review workflow in real Chromium against a real server: an overdue review with a
reassessment trigger; the reviewer dismisses the trigger with a reason, picks the business
owner from the users, records the review (the next date moves a cadence ahead), then brings
the next review within the due-soon window, which the reviews page and the dashboard say."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from collector.db import make_engine, make_sessionmaker, transaction
from collector.ingest import ingest_report
from collector.store.agents import enroll_agent
from server.accounts import service as accounts
from server.inventory import service as triage
from server.register import service
from server.register.schemas import EntryInput
from signatures import FindingKind, load_catalogue
from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer
from tests.factories import finding, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    return SCREENSHOTS  # read before the autouse fixture scrubs the environment


def _seed(server: LiveServer) -> str:
    """An approved ChatGPT entry decided 400 days ago (its review overdue), a kind of
    evidence first seen since (a trigger), and a user to own it; all through the services."""
    engine = make_engine(f"sqlite:///{(server.data_dir / 'shadowmap.db').resolve()}")
    now = dt.datetime.now(dt.UTC)
    secret = server.enrollment_token()
    with transaction(make_sessionmaker(engine)) as session:
        accounts.create_user(
            session, actor="admin", username="dana.whitfield", role="viewer", password=None,
            email="dana@example.org",
        )  # fmt: skip
        agent, _credential = enroll_agent(
            session, enrollment_secret=secret, agent_uid="agent-r1",
            hostname="fin-laptop-01", os="linux", os_version="", arch="x86_64",
        )  # fmt: skip
        seen = now - dt.timedelta(days=2)
        findings = [
            finding("openai-chatgpt", seen=seen),
            finding("openai-chatgpt", kind=FindingKind.DNS, indicator="chatgpt.com",
                    indicator_kind="domain", seen=seen),
        ]  # fmt: skip
        ingest_report(
            session,
            agent=agent,
            report=report(findings, agent_id="agent-r1", hostname="fin-laptop-01"),
            catalogue=load_catalogue(),
        )
        item = triage.transition_item(session, actor="admin", item_id=1, target="triaging")
        entry = triage.promote_item(session, actor="admin", item_id=item.id)
        fields = EntryInput(
            title="ChatGPT drafting", ai_system="ChatGPT", purpose="Drafting letters",
            business_owner="Finance lead", risk_level="low",
        )  # fmt: skip
        service.update_entry(
            session, actor="admin", register_id=entry.register_id,
            expected_version=entry.version, fields=fields,
        )  # fmt: skip
        service.decide_entry(
            session, actor="carol", register_id=entry.register_id,
            expected_version=entry.version, decision="approved", rationale="low risk",
            today=(now - dt.timedelta(days=400)).date(),
        )  # fmt: skip
        register_id = entry.register_id
    engine.dispose()
    return register_id


def test_record_a_review_dismiss_a_trigger_and_move_the_next_date(
    live_server: LiveServer, page: object, tmp_path: Path, screenshot_dir: str | None
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    register_id = _seed(live_server)
    today = dt.datetime.now(dt.UTC).date()
    shots = Path(screenshot_dir) if screenshot_dir else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    url = live_server.url
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{url}/dashboard")
    expect(page.locator(".kpi", has_text="reviews overdue")).to_contain_text("1")
    page.goto(f"{url}/reviews")
    row = page.locator("tbody tr", has_text=register_id)
    expect(row).to_contain_text("days overdue")
    expect(row).to_contain_text("new kind of evidence: dns (ChatGPT)")
    row.get_by_role("link", name=register_id).click()

    # Dismiss a trigger, with the reason.
    triggers = page.locator(
        "section", has=page.get_by_role("heading", name="Reassessment triggers")
    )
    dns = triggers.locator("li", has_text="new kind of evidence: dns (ChatGPT)")
    dns.get_by_label("Why it needs no reassessment").fill("DNS lookups of the same approved use")
    dns.get_by_role("button", name="Dismiss").click()
    expect(triggers.get_by_text("new kind of evidence: dns (ChatGPT)")).to_have_count(0)
    expect(page.locator("section", has_text="History")).to_contain_text("DNS lookups of the same")

    # The business owner is picked from the users (a free-text owner stays possible).
    options = page.locator("datalist#owner-choices option")
    assert "dana.whitfield" in options.evaluate_all("opts => opts.map(o => o.value)")
    page.get_by_label("Business owner").fill("dana.whitfield")
    page.get_by_role("button", name="Save record").click()
    expect(page.locator(".fact", has_text="Business owner")).to_contain_text("dana.whitfield")

    # Record the review: keep the decision; the next review moves a cadence ahead.
    page.get_by_label("Outcome").select_option("keep")
    page.get_by_label("Review notes").fill("Still drafting letters only; no customer data.")
    page.get_by_role("button", name="Record review").click()
    next_year = today.replace(year=today.year + 1)
    expect(page.locator(".fact", has_text="Next review")).to_contain_text(next_year.isoformat())
    expect(page.locator("section", has_text="History")).to_contain_text("entry.reviewed")
    page.screenshot(path=str(shots / "review-entry.png"), full_page=True)

    # A date in the past is refused with a clear error; one in the window is "due soon".
    form = page.locator("form[action$='/next-review']")
    form.get_by_label("Next review on").evaluate("input => input.removeAttribute('min')")
    past = (today - dt.timedelta(days=3)).isoformat()
    form.get_by_label("Next review on").fill(past)
    form.get_by_role("button", name="Set date").click()
    # The entry's page again: the error beside the date, the date as typed.
    expect(page.locator("#next_review_on-error")).to_have_text(
        "a review date cannot be in the past"
    )
    expect(page.get_by_role("alert")).to_contain_text("The next review date was not changed")
    expect(form.get_by_label("Next review on")).to_have_value(past)
    expect(form.get_by_label("Next review on")).to_have_attribute("aria-invalid", "true")
    soon = (today + dt.timedelta(days=10)).isoformat()
    page.locator("form[action$='/next-review']").get_by_label("Next review on").fill(soon)
    page.get_by_role("button", name="Set date").click()
    expect(page.locator(".fact", has_text="Next review")).to_contain_text(soon)
    page.goto(f"{url}/reviews")
    expect(page.locator("tbody tr", has_text=register_id)).to_contain_text("due soon")
    page.goto(f"{url}/dashboard")
    expect(page.locator(".kpi", has_text="reviews overdue")).to_contain_text("1 due soon")
    page.screenshot(path=str(shots / "review-dashboard.png"), full_page=True)
