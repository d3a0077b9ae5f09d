"""The single sign-on journey in real Chromium against the real provider: sign in, the role
from the group claim, sign out through the provider (RP-initiated logout, whose back-channel
call ends the session), and a session ended when the provider's session ends."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, LiveServer, run_cli, start_server
from tests.server.sso.conftest import sso_settings
from tests.server.sso.oidc_provider import OidcProvider

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider, rp_port: int
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("sso-server")
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    run_cli(
        "server",
        "user",
        "create",
        "--username",
        "breakglass",
        "--role",
        "admin",
        "--password",
        ADMIN_PASSWORD,
        "--data-dir",
        str(data_dir),
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sso_settings(provider, rp_port).items():
            patch.setenv(name, value)
        patch.setenv("SHADOWMAP_SCHEDULER_ENABLED", "false")
        live = start_server(data_dir, port=rp_port)
    yield live
    live.stop()


@pytest.fixture
def browser_page(server: LiveServer) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        # Loopback only: the provider's development pages ask for a web font elsewhere.
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("http://127.0.0.1:")
                else route.abort()
            ),
        )
        yield context.new_page()
        context.close()
        browser.close()


def sign_in(page: Any, server: LiveServer, login: str) -> None:
    page.goto(f"{server.url}/login")
    page.click("text=Sign in with Test IdP")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/inventory")


def session_cookie(page: Any) -> str:
    [cookie] = [c for c in page.context.cookies() if c["name"] == "shadowmap_session"]
    return str(cookie["value"])


def works(server: LiveServer, cookie: str, path: str = "/inventory") -> bool:
    answer = httpx.get(
        f"{server.url}{path}",
        cookies={"shadowmap_session": cookie},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    return answer.status_code == 200


def test_sign_in_with_the_provider_then_sign_out_through_it(
    browser_page: Any, server: LiveServer, provider: OidcProvider
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    sign_in(page, server, "alice")
    expect(page.locator("header.top")).to_contain_text("alice")
    cookie = session_cookie(page)
    # The group claim made alice an admin: the user list is hers to see.
    page.goto(f"{server.url}/admin/users")
    expect(page.locator("main")).to_contain_text("alice")
    expect(page.locator("main")).to_contain_text("breakglass")

    page.click("header form[action='/logout'] button")
    # The provider asks to confirm ending its session (RP-initiated logout)...
    page.click("button[value=yes]")
    # ...calls our back-channel endpoint, and sends the browser back to the sign-in page.
    page.wait_for_url(f"{server.url}/login")
    assert not works(server, cookie)
    assert "backchannel.success shadowmap" in provider.log()


def test_a_session_ends_when_the_providers_session_ends(
    browser_page: Any, server: LiveServer, provider: OidcProvider
) -> None:
    page = browser_page
    sign_in(page, server, "bob")
    cookie = session_cookie(page)
    assert works(server, cookie) and not works(server, cookie, "/admin/users")  # a reviewer

    # Bob signs out at the provider itself (another application's sign-out, say).
    page.goto(f"{provider.issuer}/session/end")
    page.click("button[value=yes]")
    page.wait_for_load_state()

    assert not works(server, cookie)
    page.goto(f"{server.url}/inventory")
    page.wait_for_url(f"{server.url}/login*")
