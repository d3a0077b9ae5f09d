"""The inventory in real headless Chromium (Debian's /usr/bin/chromium, through Playwright)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.db import make_engine, make_sessionmaker, transaction
from collector.ingest import ingest_report
from collector.store.agents import enroll_agent
from signatures import FindingKind, load_catalogue
from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer
from tests.factories import finding, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = '<img src=x onerror="window.__pwned=1">Evil AI <script>window.__pwned=2</script>'


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def _seed(server: LiveServer) -> None:
    engine = make_engine(f"sqlite:///{(server.data_dir / 'shadowmap.db').resolve()}")
    with transaction(make_sessionmaker(engine)) as session:
        token_secret = server.enrollment_token()
        agent, _ = enroll_agent(
            session,
            enrollment_secret=token_secret,
            agent_uid="agent-web",
            hostname="design-laptop",
            os="linux",
        )
        ingest_report(
            session,
            agent=agent,
            catalogue=load_catalogue(),
            report=report(
                [
                    finding("openai-chatgpt"),
                    finding(
                        None,
                        kind=FindingKind.BROWSER_EXTENSION,
                        indicator=HOSTILE,
                        indicator_kind="browser_extension",
                        heuristic="host permission on claude.ai",
                    ),
                ],
                agent_id="agent-web",
                hostname="design-laptop",
            ),
        )
    engine.dispose()


def test_sign_in_and_read_the_inventory_in_chromium(live_server: LiveServer, page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _seed(live_server)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{live_server.url}/inventory")
    expect(page).to_have_url(f"{live_server.url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/inventory")
    expect(page.get_by_role("heading", name="Draft AI inventory")).to_be_visible()
    row = page.locator("tr", has_text="ChatGPT")
    expect(row).to_contain_text("OpenAI")
    expect(row).to_contain_text("Chat assistant")

    # The hostile extension name is shown as text and never runs.
    expect(page.get_by_role("link", name=HOSTILE)).to_be_visible()
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []

    page.get_by_role("link", name="ChatGPT").click()
    expect(page.get_by_role("heading", name="ChatGPT")).to_be_visible()
    expect(page.locator("table")).to_contain_text("design-laptop")

    page.get_by_role("link", name="Hosts").click()
    expect(page.locator("tr", has_text="design-laptop")).to_contain_text("reporting")
