"""A personal browser profile on a company machine, end to end: real server, real agent, Chromium.

The server knows the organisation's domain (SHADOWMAP_ORGANISATION_DOMAINS) and pushes it to the
agent; the agent scans an image whose user has a corporate Chrome profile (an AI extension, signed
in with the company account) and a personal one (another AI extension, signed in with a Gmail
address) and a Firefox profile signed in to a personal Firefox account. The triage queue shows the
personal-profile items as such (and filters them), the item page says which sighting is which,
and neither address ever reaches the server. Saves docs/screenshots/personal-profile-triage.png
into $SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.agent.scanners.helpers import write
from tests.e2e.conftest import ADMIN_PASSWORD, REPO, LiveServer, run_cli, start_server

pytestmark = [pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")
MONICA = "ofpnmcalabcbjgholdjcjblkibolbppb"  # Monica, in the corporate profile
MERLIN = "camppjleccjaphfdbohjdohecfnoikec"  # Merlin, in the personal profile
GRAMMARLY = "87677a2c52b84ad3a151a4a72f5bd3c4@jetpack"  # Grammarly for Firefox
CORPORATE_ADDRESS = "ana.lopez@corp.example.com"
PERSONAL_ADDRESS = "ana.lopez.1987@gmail.com"
FIREFOX_ADDRESS = "analopez@proton.me"


@pytest.fixture(scope="module")
def screenshot_dir() -> str | None:
    return SCREENSHOTS  # read before the autouse fixture scrubs the environment


@pytest.fixture
def org_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A real server told the organisation's mail domain."""
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    run_cli(
        "server",
        "user",
        "create",
        "--username",
        "admin",
        "--role",
        "admin",
        "--password",
        ADMIN_PASSWORD,
        "--data-dir",
        str(data_dir),
    )
    monkeypatch.setenv("SHADOWMAP_ORGANISATION_DOMAINS", "example.com, Example.ORG")
    server = start_server(data_dir)
    try:
        yield server
    finally:
        server.stop()


def chrome_profile(
    base: Path, directory: str, name: str, extension: str, email: str | None
) -> None:
    profile = base / directory
    version = profile / "Extensions" / extension / "1.0.0_0"
    write(version / "manifest.json", {"manifest_version": 3, "name": name, "version": "1.0.0"})
    preferences: dict[str, object] = {"profile": {"name": directory}}
    if email is not None:
        preferences["account_info"] = [
            {"account_id": "1001", "gaia": "1001", "email": email, "full_name": "Ana"}
        ]
        preferences["google"] = {"services": {"account_id": "1001"}}
    write(profile / "Preferences", preferences)
    write(
        profile / "Secure Preferences",
        {
            "extensions": {
                "settings": {
                    extension: {
                        "path": f"{extension}/1.0.0_0",
                        "location": 1,
                        "from_webstore": True,
                        "state": 1,
                    }
                }
            }
        },
    )


def company_laptop(root: Path) -> Path:
    write(
        root / "etc/passwd", "root:x:0:0::/root:/bin/bash\nana:x:1000:1000::/home/ana:/bin/bash\n"
    )
    write(root / "etc/hostname", "fin-laptop-12\n")
    chrome = root / "home/ana/.config/google-chrome"
    chrome_profile(chrome, "Default", "Monica", MONICA, CORPORATE_ADDRESS)
    chrome_profile(chrome, "Profile 1", "Merlin", MERLIN, PERSONAL_ADDRESS)
    write(chrome / "Local State", {"profile": {"info_cache": {"Default": {}, "Profile 1": {}}}})
    firefox = root / "home/ana/.mozilla/firefox"
    write(firefox / "profiles.ini", "[Profile0]\nName=default\nIsRelative=1\nPath=abcd.default\n")
    write(
        firefox / "abcd.default/extensions.json",
        {"addons": [{"id": GRAMMARLY, "type": "extension", "active": True}]},
    )
    write(
        firefox / "abcd.default/signedInUser.json",
        {"version": 1, "accountData": {"email": FIREFOX_ADDRESS, "verified": True}},
    )
    return root


def test_a_personal_profile_ai_extension_is_shown_as_personal_in_triage(
    org_server: LiveServer, tmp_path: Path, screenshot_dir: str | None
) -> None:
    image = company_laptop(tmp_path / "image")
    state = tmp_path / "agent-state"
    token = org_server.enrollment_token()
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent",
            "scan",
            "--once",
            "--server",
            org_server.url,
            "--token",
            token,
            "--state-dir",
            str(state),
            "--root",
            str(image),
            "--only",
            "browser_extensions",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert sent.returncode == 0, sent.stderr
    # The agent cached what the collector pushed, for scans without a collector.
    cached = json.loads((state / "collector-config.json").read_text())
    assert cached == {"organisation_domains": ["example.com", "example.org"]}
    assert oct((state / "collector-config.json").stat().st_mode & 0o777) == "0o600"

    client = org_server.signed_in_client()
    try:
        queue = client.get("/triage").text
        rows = {name: _row(queue, name) for name in ("Monica", "Merlin", "Grammarly")}
        assert "personal profile" in rows["Merlin"]
        assert (
            "personal profile" in rows["Grammarly"]
        )  # a Firefox account at a public mail provider
        assert "personal profile" not in rows["Monica"]
        personal = client.get("/triage", params={"account": "personal"}).text
        assert "Merlin" in personal and "Grammarly" in personal and "Monica" not in personal
        corporate = client.get("/triage", params={"account": "corporate"}).text
        assert "Monica" in corporate and "Merlin" not in corporate
        bogus = client.get("/triage", params={"account": "bogus"})
        assert (
            bogus.status_code == 200
            and "browser profile &#39;bogus&#39; is not one of" in bogus.text
        )
        inventory = client.get("/inventory").text
        assert "personal profile" in _row(inventory, "Merlin")

        item_id = re.search(r'href="/inventory/(\d+)">Monica<', queue)
        assert item_id
        item_page = client.get(f"/inventory/{item_id.group(1)}").text
        assert "corporate profile" in item_page and "corp.example.com" in item_page
    finally:
        client.close()

    # Only the class (and, for the company's own accounts, the domain) left the laptop.
    database = (org_server.data_dir / "shadowmap.db").read_bytes()
    for address in (CORPORATE_ADDRESS, PERSONAL_ADDRESS, FIREFOX_ADDRESS):
        assert address.encode() not in database
        assert address.split("@")[0].encode() not in database
    assert b"gmail.com" not in database and b"proton.me" not in database

    _screenshot(org_server, screenshot_dir or str(tmp_path))


def _row(page: str, name: str) -> str:
    """Return the table row of the page that names ``name``."""
    for row in re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.S):
        if f">{name}<" in row:
            return str(row)
    raise AssertionError(f"no row for {name}")


def _screenshot(server: LiveServer, directory: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed")
    shots = Path(directory)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(f"{server.url}/login")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(ADMIN_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{server.url}/triage")
            badge = page.locator("tr", has_text="Merlin").locator(".profile-personal")
            sync_api.expect(badge).to_have_text("personal profile")
            page.screenshot(path=str(shots / "personal-profile-triage.png"), full_page=True)
        finally:
            browser.close()
    assert httpx.get(f"{server.url}/healthz").status_code == 200
