"""What every page shares: a signed-in user, and assets served by Shadowmap itself."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_pages_and_api_need_a_signed_in_user(client: TestClient) -> None:
    page = client.get("/inventory", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"
    assert client.get("/api/v1/inventory").status_code == 401
    assert client.get("/api/v1/hosts").status_code == 401


def test_static_assets_are_served_locally(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in client.get("/login").text.split("<body>")[0].replace("http-equiv", "")
