"""The directory import page: a bad file is refused naming the row and imports nothing; only
admins import; the page escapes what the file held."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.server.conftest import sign_in

HOSTILE = "<script>alert(1)</script>"


def _upload(client: TestClient, csrf: str, data: bytes) -> object:
    return client.post(
        "/people/import",
        data={"csrf": csrf},
        files={"file": ("people.csv", data, "text/csv")},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )


def test_import_page_refuses_bad_rows_and_escapes_names(client: TestClient) -> None:
    csrf = sign_in(client, "admin")
    bad = _upload(client, csrf, b"username,department\nann,Sales\nann,IT\n")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert "row 3" in bad.text and "already on row 2" in bad.text  # type: ignore[attr-defined]
    assert "ann" not in client.get("/people").text.split("<h2>Departments</h2>")[1]
    good = _upload(client, csrf, f"username,department,name\nann,Sales,{HOSTILE}\n".encode())
    assert good.status_code == 303  # type: ignore[attr-defined]
    page = client.get("/people?imported=1").text
    assert "Imported 1 people" in page and HOSTILE not in page and "&lt;script&gt;" in page


def test_only_admins_import(client: TestClient) -> None:
    csrf = sign_in(client, "reviewer")
    assert _upload(client, csrf, b"username,department\nx,y\n").status_code == 403  # type: ignore[attr-defined]
