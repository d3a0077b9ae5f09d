"""Governance that acts, in real Chromium against a real server: a reviewer prohibits an AI
extension the real agent found, the agent scans and reports again over HTTP, and the violation
shows on the item page, the dashboard, the host page and the next weekly report. Saves
governance-*.png screenshots (into $SCREENSHOT_DIR when set)."""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer, run_cli
from tests.e2e.test_malicious_extension import NORMAL_AI, _endpoint

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    return SCREENSHOTS  # read before the autouse fixture scrubs the environment


def _scan(server: LiveServer, root: Path, state: Path) -> None:
    sent = run_cli(
        "agent",
        "scan",
        "--once",
        "--root",
        str(root),
        "--only",
        "browser_extensions",
        "--server",
        server.url,
        "--state-dir",
        str(state),
    )
    assert "collector: stored" in sent.stdout, sent.stdout + sent.stderr


def test_a_prohibited_service_reported_again_shows_as_a_violation_everywhere(
    live_server: LiveServer, page: object, tmp_path: Path, screenshot_dir: str | None
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    root = tmp_path / "endpoint"
    _endpoint(root, NORMAL_AI, "Monica - Your AI Copilot")  # Monica and an ad blocker
    state = tmp_path / "agent-state"
    run_cli(
        "agent",
        "enroll",
        "--server",
        live_server.url,
        "--token",
        live_server.enrollment_token(),
        "--state-dir",
        str(state),
    )
    _scan(live_server, root, state)
    with closing(live_server.signed_in_client()) as client:
        (monica,) = client.get("/api/v1/inventory").json()
        (host,) = client.get("/api/v1/hosts").json()
    assert monica["governed_status"] == "" and monica["violation_count"] == 0

    shots = Path(screenshot_dir) if screenshot_dir else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    url = live_server.url
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    row = page.locator(f"tr[data-item-key='{monica['key']}']")
    expect(row).to_contain_text("Not in register")

    # Triage the item into a register entry, then prohibit it in the register.
    page.goto(f"{url}/inventory/{monica['id']}")
    page.get_by_label("Assign to").select_option("admin")
    page.get_by_role("button", name="Assign").click()
    page.get_by_label("Title").fill("Monica sidebar")
    page.get_by_label("Purpose", exact=True).fill("Reading web pages aloud")
    page.get_by_role("button", name="Promote").click()
    expect(page.locator("header .state")).to_contain_text("under review")
    page.get_by_label("Decision", exact=True).select_option("prohibited")
    page.get_by_label("Rationale", exact=True).fill("Sends every page read to a third party.")
    page.get_by_label("Approved alternative").fill("AIR-2026-0042 Copilot for Microsoft 365")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("heading", name="Decision: prohibited")).to_be_visible()
    expect(page.get_by_text("Use instead: AIR-2026-0042 Copilot for Microsoft 365")).to_be_visible()

    # The decision flows to the inventory: the item is prohibited, with no violation yet.
    page.goto(f"{url}/inventory")
    expect(row).to_contain_text("Prohibited")
    page.goto(f"{url}/dashboard")
    expect(page.get_by_text("Prohibited use still happening")).to_have_count(0)

    # The agent scans again and reports over HTTP: the extension is still installed.
    _scan(live_server, root, state)

    page.goto(f"{url}/inventory/{monica['id']}")
    expect(page.locator("header.page-head")).to_contain_text("Register: Prohibited")
    expect(page.get_by_role("status")).to_contain_text("use instead: AIR-2026-0042")
    violations = page.locator("section.violations")
    expect(violations.get_by_role("link", name=host["hostname"])).to_be_visible()
    expect(violations).to_contain_text("browser extension")
    page.screenshot(path=str(shots / "governance-item.png"), full_page=True)

    page.goto(f"{url}/dashboard")
    alert = page.locator("section.alert-violations")
    expect(alert).to_contain_text("Prohibited use still happening: 1 service on 1 host")
    expect(alert.get_by_role("link", name=monica["name"])).to_be_visible()
    alert.get_by_role("link", name=host["hostname"]).click()
    expect(page.get_by_role("heading", name=host["hostname"])).to_be_visible()
    on_host = page.locator("section.violations")
    expect(on_host.get_by_role("link", name=monica["name"])).to_be_visible()
    expect(on_host).to_contain_text("prohibited")
    expect(page.locator("table", has_text="Indicator")).to_contain_text("Prohibited")
    page.screenshot(path=str(shots / "governance-host.png"), full_page=True)

    # The next weekly report says so.
    ran = run_cli(
        "server", "report", "run", "--name", "weekly", "--data-dir", str(live_server.data_dir)
    )
    assert ": done" in ran.stdout, ran.stdout
    page.goto(f"{url}/reports")
    expect(page.locator("tbody tr").first).to_contain_text("1")
    with page.expect_download() as download:
        page.get_by_role("link", name="html").first.click()
    report = Path(download.value.path()).read_text()
    page.set_content(report)  # the report as its reader opens it
    expect(page.get_by_role("heading", name="Prohibited services still in use (1)")).to_be_visible()
    expect(page.locator("body")).to_contain_text("1 prohibited service is still in use (Monica")
    expect(page.locator("body")).to_contain_text("1 violation was seen this period")
    page.screenshot(path=str(shots / "governance-report.png"), full_page=True)
