"""The reports page inside the app: in the menu, styled, "Run now" over a date range with the
errors beside their fields, and the history of runs with their files."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from tests.server.conftest import sign_in


def test_an_admin_runs_a_report_over_a_range_and_finds_it_in_the_history(
    client: TestClient,
) -> None:
    csrf = sign_in(client, "admin")
    page = client.get("/reports")
    assert page.status_code == 200
    assert '<a href="/reports" aria-current="page">Reports</a>' in page.text  # in the menu
    assert "/static/app.css" in page.text and "No report has run yet." in page.text
    wrong = client.post(
        "/reports/run",
        data={"csrf": csrf, "report": "weekly", "start": "2026-11-20", "end": "2026-11-02"},
    )
    assert wrong.status_code == 422
    assert '<p class="field-error" id="run-end-error">the end is before the start</p>' in wrong.text
    assert 'value="2026-11-20"' in wrong.text and 'value="2026-11-02"' in wrong.text
    done = client.post(
        "/reports/run",
        data={"csrf": csrf, "report": "weekly", "start": "2026-11-02", "end": "2026-11-15"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    run_id = re.fullmatch(r"/reports\?ran=(\d+)", done.headers["location"]).group(1)  # type: ignore[union-attr]
    history = unescape(client.get(done.headers["location"]).text)
    assert f"Report run #{run_id} is ready" in history
    assert "2026-11-02 to 2026-11-16" in history  # whole days, the end day included
    pdf = client.get(f"/api/v1/reports/{run_id}/files/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_viewer_reads_the_history_but_cannot_run(client: TestClient) -> None:
    csrf = sign_in(client, "viewer")
    page = client.get("/reports").text
    assert "Run now" not in page
    refused = client.post(
        "/reports/run",
        data={"csrf": csrf, "report": "weekly", "start": "2026-11-02", "end": "2026-11-15"},
    )
    assert refused.status_code == 403
