"""A new organisation sets up its minimum AI management system from an empty install, in real
headless Chromium (Debian's /usr/bin/chromium, through Playwright) against a real `shadowmap
serve`: an owner and a scope, a policy published and acknowledged by two people through their
own links, an approval route that requires a DPIA for personal data, an entry approved through
it, a training record and an incident that sends the entry back to review; then it prints the
management review pack (saved as management-review.png, into $SCREENSHOT_DIR when set) and
the evidence pack verifies with all of it inside."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
HOSTILE = '<img src=x onerror="window.__pwned=1">'
DIRECTORY = (
    "username,name,email,department\n"
    "ana.lopez,Ana López,ana@example.org,Customer Support\n"
    "ben.okafor,Ben Okafor,ben@example.org,Sales\n"
    "admin,Ada Admin,ada@example.org,IT\n"
)
POLICY = f"""# Rules for using AI

1. Use only AI tools listed as **approved** in the AI register.
2. Never paste customer personal data into an AI tool without an approved DPIA.
3. Report AI incidents to the AIMS owner the same day.

[Register](https://intranet.example.org/ai-register) [x](javascript:window.__pwned=2)
{HOSTILE}
"""


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    return SCREENSHOTS  # read before the autouse fixture scrubs the environment


@pytest.fixture
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        sync_api.expect.set_options(timeout=30_000)
        yield launched
        launched.close()


def test_a_new_organisation_sets_up_its_management_system(
    live_server: LiveServer, browser: object, tmp_path: Path, screenshot_dir: str | None
) -> None:
    from playwright.sync_api import Browser, Page, expect

    assert isinstance(browser, Browser)
    url = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page: Page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Draft AI inventory")).to_be_visible()

    # The owner and the scope.
    page.get_by_role("link", name="Management system").click()
    expect(page.locator("#scope-sentence")).to_contain_text("No AIMS scope has been published")
    page.get_by_role("link", name="Scope").click()
    page.locator("#owner").fill("Olga Berg, COO")
    page.locator("#business_units").fill("Customer Support\nSales")
    page.locator("#locations").fill("Berlin\nLisbon")
    page.locator("#exclusions").fill("The R&D lab's own models (covered by its own process)")
    page.locator("#rationale").fill("Start with the teams that use AI with customer data")
    page.get_by_role("button", name="Publish scope").click()
    expect(page.locator("#scope-sentence")).to_contain_text("AIMS scope v1 (owner Olga Berg, COO)")

    # The people directory.
    page.goto(f"{url}/people")
    page.locator("#file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": DIRECTORY.encode()}]
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text("Imported 3 people")

    # The policy: drafted, published, acknowledged by two people through their own links.
    page.goto(f"{url}/policies")
    page.locator("#title").fill("AI acceptable use")
    page.locator("#approver_role").fill("CISO")
    page.locator("#body_markdown").fill(POLICY)
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".page-head")).to_contain_text("published")
    expect(page.locator("article")).to_contain_text(HOSTILE)  # shown as text, never run
    links = {
        person: page.locator(f'a.ack-link[data-person="{person}"]').get_attribute("href")
        for person in ("ana.lopez", "ben.okafor")
    }
    for link in links.values():
        assert link and link.startswith("/acknowledge/")
        visitor = browser.new_context().new_page()  # not signed in: the link is enough
        visitor.goto(f"{url}{link}")
        expect(visitor.get_by_role("heading", name="AI acceptable use")).to_be_visible()
        visitor.get_by_role("button", name="I have read and will follow this policy").click()
        expect(visitor.get_by_role("status")).to_contain_text("your acknowledgement was recorded")
        assert visitor.evaluate("window.__pwned") is None
        visitor.context.close()
    page.reload()
    coverage = page.locator("#coverage")
    expect(coverage.locator("tr", has_text="Customer Support")).to_contain_text("1 of 1")
    expect(coverage.locator("tr", has_text="Sales")).to_contain_text("1 of 1")
    expect(coverage.locator("tr", has_text="IT")).to_contain_text("0 of 1")

    # The approval route: personal data needs a DPIA and a reviewer's sign-off.
    page.goto(f"{url}/approval-routes")
    page.locator("#route-name").fill("Personal data needs a DPIA")
    page.locator("#route-personal").check()
    page.locator('input[name="assessments"][value="dpia"]').check()
    page.locator("#route-approvers").fill("role:reviewer")
    page.get_by_role("button", name="Add route").click()
    expect(page.locator("#routes")).to_contain_text("Personal data needs a DPIA")

    # An entry, approved through the route.
    page.goto(f"{url}/register")
    page.locator("summary", has_text="New register entry").click()
    page.locator("#n-title").fill("Support reply drafting")
    page.locator("#n-ai_system").fill("ChatGPT Team")
    page.locator("#n-business_unit").fill("Customer Support")
    page.locator("#n-supplier").fill("OpenAI")
    page.locator("#n-purpose").fill("Draft replies to customer tickets; an agent edits each")
    page.get_by_role("button", name="Create entry").click()
    expect(page.locator(".page-head")).to_contain_text("under review")
    register_id = (page.locator(".eyebrow").text_content() or "").split(" ")[0]
    page.locator("#business_owner").fill("Carla Diaz")
    page.locator("#risk_level").select_option("medium")
    page.locator('input[name="data_classes"][value="customer_data"]').check()
    page.get_by_role("button", name="Save record").click()
    checklist = page.locator(".checklist")
    expect(checklist).to_contain_text("needs a completed Data protection impact assessment (DPIA)")
    page.locator("#approval_route").get_by_role(
        "link", name="Data protection impact assessment (DPIA)"
    ).click()
    for number, answer in enumerate(
        (
            "Ticket text with customer names and emails, to draft replies",
            "Needed for response times; minimised: account numbers are masked",
            "Disclosure to the supplier; wrong answers sent to customers",
            "Team plan without training on our data; masking; human review of every reply",
            "DPO agrees (2026-12-01)",
        )
    ):
        page.locator(f"#answer-{number}").fill(answer)
    page.get_by_role("button", name="Complete Data protection impact assessment (DPIA)").click()
    expect(page.locator(".summary-cards")).to_contain_text("DPIA completed")
    shots = Path(screenshot_dir) if screenshot_dir else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.locator("#approval_route").screenshot(path=str(shots / "approval-route.png"))
    page.get_by_role("button", name="Sign off step 1").click()
    expect(page.locator("#approval_route")).to_contain_text("approved by admin")
    expect(page.locator(".ok-note")).to_contain_text("All approval guards pass")
    page.locator("#rationale").fill("DPIA done; reviewer signed off; customer data masked")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator(".page-head")).to_contain_text("approved")

    # A training record.
    page.goto(f"{url}/training")
    page.locator("#training-user").fill("ana.lopez")
    page.locator("#training-course").fill("AI literacy for support agents")
    page.get_by_role("button", name="Record training").click()
    expect(page.locator("#records")).to_contain_text("ana.lopez")
    expect(page.locator("#coverage tr", has_text="Customer Support")).to_contain_text("1 of 1")

    # An incident on the entry sends it back to review.
    page.goto(f"{url}/incidents")
    page.locator("#incident-title").fill("Customer email address pasted unmasked")
    page.locator("#incident-entry").select_option(register_id)
    page.locator("#incident-severity").select_option("medium")
    page.locator("#incident-people").fill("1")
    page.locator("#incident-actions").fill("Conversation deleted; masking rule added")
    page.get_by_role("button", name="Record incident").click()
    expect(page.locator("#incidents")).to_contain_text(register_id)
    page.goto(f"{url}/register/{register_id}")
    expect(page.locator(".page-head")).to_contain_text("under review")
    expect(page.locator("#approval_route")).to_contain_text("Sign off step 1")

    # The Statement of Applicability links its evidence to the records.
    page.goto(f"{url}/soa")
    a22 = page.locator('tr[id="A.2.2"]')
    expect(a22).to_contain_text("implemented")
    a22.get_by_role("link", name="policy:1").click()
    expect(page.get_by_role("heading", name="AI acceptable use")).to_be_visible()

    # The management review pack it prints.
    page.goto(f"{url}/management-review")
    page.get_by_role("button", name="Print the management review pack").click()
    expect(page).to_have_url(f"{url}/management-review/print")
    expect(page.locator("body")).to_contain_text("This is the first management review")
    expect(page.locator("#objectives tr", has_text="Open AI incidents")).to_contain_text("not met")
    expect(page.locator(".scope")).to_contain_text("AIMS scope v1 (owner Olga Berg, COO)")
    expect(page.locator("#policies")).to_contain_text("2 of 3")
    expect(page.locator("#incidents")).to_contain_text("Customer email address pasted unmasked")
    expect(page.locator("#training")).to_contain_text("Customer Support")
    page.screenshot(path=str(shots / "management-review.png"), full_page=True)
    assert (shots / "management-review.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = context.request.get(f"{url}/management-review/pack.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    assert page.evaluate("window.__pwned") is None and dialogs == []
    context.close()

    # The evidence pack, written and verified by the command line, holds all of it.
    pack = tmp_path / "evidence.zip"
    data_dir = str(live_server.data_dir)
    run_cli("server", "evidence-pack", "--out", str(pack), "--data-dir", data_dir)
    verified = run_cli("server", "evidence-pack", "verify", str(pack))
    assert "evidence pack intact" in verified.stdout
    with zipfile.ZipFile(pack) as archive:
        scope = json.loads(archive.read("aims/scope.json"))
        acks = archive.read("aims/acknowledgements.csv").decode()
        signoffs = archive.read("aims/signoffs.csv").decode()
        incidents = archive.read("aims/incidents.csv").decode()
        training = archive.read("aims/training.csv").decode()
        review = archive.read("aims/management-review.html").decode()
    assert scope[0]["owner"] == "Olga Berg, COO"
    assert "ana.lopez" in acks and "ben.okafor" in acks
    assert f"{register_id},Personal data needs a DPIA,1,role:reviewer,admin,approved" in signoffs
    assert "Customer email address pasted unmasked" in incidents
    assert "AI literacy for support agents" in training
    assert "Olga Berg, COO" in review
