"""A published malicious AI extension on a test endpoint stands out, end to end.

The endpoint is a filesystem image with a real Chromium profile (Debian's Chromium creates it),
into which the malicious extension (picked from the shipped catalogue by its ``malicious``
attribute), a normal AI extension and an ad blocker are installed as the Web Store lays them
out. The real agent CLI scans the image and reports to the real server; real Chromium then
shows the item first in the triage queue with its marker, and on the dashboard with its host.
Saves malicious-*.png screenshots (into $SCREENSHOT_DIR when set).
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from signatures import IndicatorKind, load_catalogue
from tests.e2e.conftest import ADMIN_PASSWORD, CHROMIUM, LiveServer, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
NORMAL_AI = "ofpnmcalabcbjgholdjcjblkibolbppb"  # Monica, a catalogued AI sidebar
AD_BLOCKER = "cjpalhdlnbpafiamejdnhcphjbkeiagm"  # uBlock Origin


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    return SCREENSHOTS  # read before the autouse fixture scrubs the environment


def _endpoint(root: Path, extension_id: str, name: str) -> str:
    """Lay out the test endpoint; return the hostname-independent profile path."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\ndana:x:1000:1000:Dana:/home/dana:/bin/bash\n"
    )
    user_data = root / "home" / "dana" / ".config" / "chromium"
    user_data.mkdir(parents=True)
    # Debian's Chromium writes its own profile (Local State, Default/Preferences...).
    subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={user_data}",
            "--dump-dom",
            "about:blank",
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    profile = user_data / "Default"
    assert (profile / "Preferences").is_file(), "Chromium did not create its profile"
    installed = {
        extension_id: {"name": name, "permissions": ["storage", "tabs"]},
        NORMAL_AI: {"name": "Monica - Your AI Copilot", "permissions": ["sidePanel"]},
        AD_BLOCKER: {"name": "uBlock Origin", "permissions": ["storage"]},
    }
    secure = profile / "Secure Preferences"
    prefs = json.loads(secure.read_text()) if secure.is_file() else {}
    settings = prefs.setdefault("extensions", {}).setdefault("settings", {})
    for ext_id, fields in installed.items():
        folder = profile / "Extensions" / ext_id / "1.0.0_0"
        folder.mkdir(parents=True)
        manifest = {"manifest_version": 3, "version": "1.0.0", **fields}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        settings[ext_id] = {
            "path": f"{ext_id}/1.0.0_0",
            "location": 1,
            "from_webstore": True,
            "state": 1,
            "first_install_time": "13380000000000000",
        }
    secure.write_text(json.dumps(prefs))
    return str(profile)


def test_a_malicious_extension_on_an_endpoint_stands_out_in_the_queue_and_dashboard(
    live_server: LiveServer, page: object, tmp_path: Path, screenshot_dir: str | None
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    service = next(
        s
        for s in load_catalogue().malicious_services()
        if s.indicators.get(IndicatorKind.BROWSER_EXTENSION)
    )
    extension_id = service.indicators[IndicatorKind.BROWSER_EXTENSION][0]
    root = tmp_path / "endpoint"
    _endpoint(root, extension_id, "Claude search")

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
    sent = run_cli(
        "agent",
        "scan",
        "--once",
        "--root",
        str(root),
        "--only",
        "browser_extensions",
        "--server",
        live_server.url,
        "--state-dir",
        str(state),
    )
    assert "collector: stored" in sent.stdout, sent.stdout + sent.stderr

    with closing(live_server.signed_in_client()) as client:
        items = {item["service_id"]: item for item in client.get("/api/v1/inventory").json()}
        hostname = client.get("/api/v1/hosts").json()[0]["hostname"]
    assert items[service.id]["severity"] == "malicious"
    assert items["monica"]["severity"] == "normal"
    assert len(items) == 2  # the ad blocker is not AI

    shots = Path(screenshot_dir) if screenshot_dir else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    url = live_server.url
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Draft AI inventory")).to_be_visible()

    # The triage queue: the malicious item first, marked in words, not colour alone.
    page.goto(f"{url}/triage")
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("Malicious")
    expect(first.get_by_role("link", name=service.name)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    page.screenshot(path=str(shots / "malicious-triage.png"), full_page=True)
    page.get_by_label("Severity").select_option("malicious")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)

    # The item page: the published report, linked.
    first.get_by_role("link", name=service.name).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Published as malicious")
    assert service.malicious is not None
    expect(alert.get_by_role("link", name=service.malicious.report)).to_be_visible()
    expect(alert).to_contain_text(hostname)
    page.screenshot(path=str(shots / "malicious-item.png"), full_page=True)

    # The dashboard: the alert with the host it was seen on.
    page.goto(f"{url}/dashboard")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("1 malicious AI extension seen on 1 host")
    expect(alert.get_by_role("link", name=hostname)).to_be_visible()
    page.screenshot(path=str(shots / "malicious-dashboard.png"), full_page=True)
