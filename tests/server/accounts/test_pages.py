"""Sign-in and sign-out, the session cookie, and user management by admins."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server.conftest import sign_in


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


def test_admin_manages_users_and_viewers_cannot(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    created = client.post(
        "/admin/users", data={"csrf": csrf, "username": "auditor1", "role": "viewer"}
    )
    assert created.status_code == 200 and "auditor1" in created.text
    password = re.search(r'class="secret">([^<]+)<', created.text)
    assert password
    user_id = re.search(
        r'action="/admin/users/(\d+)"[^>]*>\s*<input[^>]*>\s*<label for="role-\d+" '
        r'class="visually-hidden">Role of auditor1',
        created.text,
    )
    assert user_id
    uid = user_id.group(1)
    assert (
        client.post(f"/admin/users/{uid}", data={"csrf": csrf, "role": "reviewer"}).status_code
        == 200
    )
    assert (
        client.post(f"/admin/users/{uid}", data={"csrf": csrf, "disabled": "true"}).status_code
        == 200
    )
    audit = client.get("/audit?object_type=user").text
    assert "user.create" in audit and "user.update" in audit and "argon2" not in audit
    client.cookies.clear()
    # The disabled account cannot sign in.
    page = client.get("/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert login_csrf
    refused = client.post(
        "/login",
        data={"username": "auditor1", "password": password.group(1), "csrf": login_csrf.group(1)},
    )
    assert refused.status_code == 401
    csrf = sign_in(client, "viewer")
    assert client.get("/admin/users").status_code == 403
    assert (
        client.post(
            "/admin/users", data={"csrf": csrf, "username": "x", "role": "admin"}
        ).status_code
        == 403
    )
