"""Sign-in, sessions, CSRF and the inventory pages."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import finding, report
from tests.server.conftest import enroll, sign_in


def test_pages_and_api_need_a_signed_in_user(client: TestClient) -> None:
    page = client.get("/inventory", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client.get("/api/v1/inventory").status_code == 401
    assert client.get("/api/v1/hosts").status_code == 401


def test_sign_in_needs_the_right_password_and_csrf(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    wrong_csrf = client.post(
        "/login", data={"username": "admin", "password": "x" * 12, "csrf": "forged"}
    )
    assert wrong_csrf.status_code == 403
    csrf = client.cookies.get("shadowmap_login_csrf")
    wrong_password = client.post(
        "/login", data={"username": "admin", "password": "wrong password!", "csrf": csrf}
    )
    assert wrong_password.status_code == 401
    assert "Wrong username or password" in wrong_password.text
    unknown_user = client.post(
        "/login", data={"username": "mallory", "password": "wrong password!", "csrf": csrf}
    )
    assert unknown_user.status_code == 401


def test_session_cookie_is_httponly_and_samesite(client: TestClient) -> None:
    sign_in(client, "viewer")
    cookie = next(c for c in client.cookies.jar if c.name == "shadowmap_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "strict"


def test_sign_out_needs_csrf_and_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client, "viewer")
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/api/v1/inventory").status_code == 200
    client.post("/logout", data={"csrf": csrf})
    assert client.get("/api/v1/inventory").status_code == 401


def test_inventory_page_lists_items_with_hosts_and_escapes_what_agents_send(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app, hostname="<img src=x onerror=alert(1)>")
    hostile = "<script>alert('pwned')</script>"
    client.post(
        "/api/v1/agents/reports",
        content=report(
            [finding("openai-chatgpt"), finding(None, indicator=hostile, heuristic="test")],
            hostname="<img src=x onerror=alert(1)>",
        ).to_json(),
        headers={"Authorization": f"Bearer {credential}"},
    )
    sign_in(client, "viewer")

    page = client.get("/inventory")
    assert page.status_code == 200
    assert "ChatGPT" in page.text and "OpenAI" in page.text
    assert hostile not in page.text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    hosts = client.get("/hosts")
    assert "<img src=x" not in hosts.text and "&lt;img src=x" in hosts.text
    item_id = next(
        item["id"]
        for item in client.get("/api/v1/inventory").json()
        if item["service_id"] == "openai-chatgpt"
    )
    detail = client.get(f"/inventory/{item_id}")
    assert detail.status_code == 200 and "alice" in detail.text
    assert client.get("/inventory/99999").status_code == 404


def test_static_assets_are_served_locally(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in client.get("/login").text.split("<body>")[0].replace("http-equiv", "")
