"""Discovery reports: the PDF rendered to images and text, HTML escaping and charts, CSV,
delivery by SMTP (aiosmtpd on loopback), to a folder and by signed webhook, the history API
and page, the CLI, and the run claim that stops two replicas running one period."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.store.inventory import InventoryItem
from collector.store.reports import ReportRun
from server.cli import main
from server.config import ServerSettings
from server.reports import render
from server.reports.delivery import REPORT_WEBHOOK_PURPOSE
from server.reports.figures import gather
from server.reports.runner import REPORTS, run_report, scheduled_period
from server.signing import derive_key, master_key, verify_signature
from signatures import load_catalogue
from tests.e2e.conftest import free_port
from tests.server.conftest import bearer, make_token, sign_in
from tests.server.receivers import Receiver
from tests.server.reports.seed import seed_discovery

NOW = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)  # a Monday, when the schedule fires


def seeded(settings: ServerSettings) -> sessionmaker[Session]:
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        seed_discovery(session, load_catalogue(None), now=dt.datetime.now(dt.UTC))
    return sessions


def gray_pages(pdf: Path, out: Path) -> list[bytes]:
    """Render every page with pdftoppm as 8-bit grey PGM; return the pixel bytes of each."""
    subprocess.run(["pdftoppm", "-gray", "-r", "40", str(pdf), str(out / "page")], check=True)
    pages = []
    for path in sorted(out.glob("page-*.pgm")):
        data = path.read_bytes()
        # P5\n<width> <height>\n<max>\n<pixels>
        header_end = 0
        for _field in range(4):
            while data[header_end : header_end + 1].isspace():
                header_end += 1
            while not data[header_end : header_end + 1].isspace():
                header_end += 1
        pages.append(data[header_end + 1 :])
    return pages


def test_the_pdf_has_pages_ink_and_the_headline_figures(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path / "server")
    sessions = seeded(settings)
    run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=False)
    assert run is not None and run.status == "done"
    head = run.summary["headline"]
    assert head["services_total"] == 13 and head["prohibited_in_use"] == 1
    assert head["hosts_not_reporting"] == 3 and head["new_services"] == 3 + 1
    pdf = tmp_path / "server" / "reports" / str(run.id) / run.outputs[1]["filename"]
    assert pdf.read_bytes().startswith(b"%PDF")
    pages = gray_pages(pdf, tmp_path)
    assert len(pages) == 2
    for pixels in pages:
        dark = sum(1 for value in pixels if value < 200)
        assert dark > len(pixels) * 0.003  # not blank
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Weekly AI discovery report" in text
    assert f"Shadowmap knows {head['services_total']} AI services" in text
    assert f"{head['unreviewed']} services await review" in text
    assert "1 prohibited service is still in use (DeepSeek)" in text
    assert "1 violation was seen this period, up from 0 the period before." in text
    assert "Prohibited services still in use (1)" in text and "DeepSeek" in text
    assert "Hosts not reporting (3)" in text and "legal-lt-030" in text
    assert "Adoption over time" in text


def test_html_escapes_endpoint_text_and_draws_svg_charts(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    sessions = seeded(settings)
    with transaction(sessions) as session:
        item = session.scalar(select(InventoryItem).where(InventoryItem.state == "new"))
        assert item is not None
        item.name = "<script>alert(1)</script>"
        item.vendor = '=HYPERLINK("http://x")'
        figures = gather(
            session,
            title="Weekly",
            start=NOW - dt.timedelta(days=7),
            end=dt.datetime.now(dt.UTC),
            stale_after=dt.timedelta(hours=3),
        )
    html = render.render_html(figures)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert html.count("<svg") == 3 and "Adoption over time" in html
    assert "Violations of the register seen per week" in html
    assert "Board summary" in html
    csv_text = render.render_csv(figures)
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text
    assert "headline,services_total,,,,13" in csv_text


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_email_delivery_through_a_real_smtp_server(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = ServerSettings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="shadowmap@example.org",
        report_email_to="ciso@example.org, board@example.org",
        report_folder=tmp_path / "outbox",
    )
    sessions = seeded(settings)
    run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=True)
    assert run is not None
    assert [(d["channel"], d["ok"]) for d in run.deliveries] == [("email", True), ("folder", True)]
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ciso@example.org, board@example.org"
    assert message["Subject"] == "Weekly AI discovery report"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and "13 AI services" in plain.get_content()
    assert html is not None and "<svg" in html.get_content()
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    names = sorted(attachments)
    assert [name.rsplit(".", 1)[1] for name in names] == ["csv", "pdf"]
    pdf_part = attachments[names[1]]
    assert pdf_part.get_content_type() == "application/pdf"
    assert pdf_part.get_payload(decode=True).startswith(b"%PDF")  # type: ignore[union-attr]
    assert sorted(path.suffix for path in (tmp_path / "outbox").iterdir()) == [
        ".csv", ".html", ".pdf"
    ]  # fmt: skip


def test_a_failed_channel_is_recorded_and_the_run_still_completes(tmp_path: Path) -> None:
    settings = ServerSettings(
        data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), report_email_to="a@b.c"
    )
    sessions = seeded(settings)
    run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=True)
    assert run is not None and run.status == "done"
    assert run.deliveries[0]["channel"] == "email" and not run.deliveries[0]["ok"]
    assert "Refused" in run.deliveries[0]["detail"]


def test_webhook_notice_is_signed_and_verifiable(tmp_path: Path) -> None:
    received: list[tuple[bytes, str | None]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("Shadowmap-Signature")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = ServerSettings(
            data_dir=tmp_path,
            report_webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
            outbound_allow="127.0.0.1/32",
        )
        sessions = seeded(settings)
        run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=True)
    finally:
        server.shutdown()
        server.server_close()
    assert run is not None and run.deliveries == [{"channel": "webhook", "ok": True, "detail": 204}]
    body, signature = received[0]
    key = derive_key(master_key(tmp_path), REPORT_WEBHOOK_PURPOSE)
    verify_signature(key, body, signature)
    assert b'"type":"report.completed"' in body and b'"prohibited_in_use":1' in body


def test_the_report_webhook_is_not_sent_to_internal_addresses(tmp_path: Path) -> None:
    """Issue 20 #4, the report channel: report_webhook_url to loopback is refused without an
    allow-list entry, and the run records the refusal without naming the address."""
    receiver = Receiver()
    try:
        port = receiver.port
        for url in (f"http://localhost:{port}/hook", f"http://2130706433:{port}/hook"):
            settings = ServerSettings(data_dir=tmp_path / str(len(url)), report_webhook_url=url)
            sessions = seeded(settings)
            run = run_report(sessions, settings, name="weekly", trigger="manual", deliver=True)
            assert run is not None and run.status == "done"
            assert run.deliveries == [
                {
                    "channel": "webhook",
                    "ok": False,
                    "detail": "destination refused: not a public address",
                }
            ]
        assert receiver.requests == []
    finally:
        receiver.close()


def test_one_period_runs_once_even_when_replicas_race(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    sessions = seeded(settings)
    results: list[ReportRun | None] = []
    barrier = threading.Barrier(4)

    def replica() -> None:
        barrier.wait()
        results.append(
            run_report(
                sessions, settings, name="weekly", trigger="schedule", deliver=False, now=NOW
            )
        )

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = [run for run in results if run is not None]
    assert len(results) == 4 and len(ran) == 1
    assert ran[0].period == "2026-W47" and ran[0].status == "done"
    assert (
        run_report(sessions, settings, name="weekly", trigger="schedule", deliver=False, now=NOW)
        is None
    )
    with sessions() as session:
        assert len(session.scalars(select(ReportRun)).all()) == 1


def test_scheduled_period_is_the_last_whole_iso_week() -> None:
    label, start, end = scheduled_period(REPORTS["weekly"], NOW)
    assert label == "2026-W47"
    assert start == dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    assert scheduled_period(REPORTS["weekly"], NOW + dt.timedelta(days=6))[0] == "2026-W47"


def test_history_api_files_and_page(client: TestClient, app: FastAPI) -> None:
    state = app.state.shadowmap
    with transaction(state.sessions) as session:
        seed_discovery(session, state.catalogue, now=dt.datetime.now(dt.UTC))
    admin = make_token(app, ["admin"])
    ran = client.post("/api/v1/reports/weekly/run", headers=bearer(admin))
    assert ran.status_code == 201, ran.text
    run_id = ran.json()["id"]
    reader = make_token(app, ["reports:read"])
    assert client.post("/api/v1/reports/weekly/run", headers=bearer(reader)).status_code == 403
    history = client.get("/api/v1/reports", headers=bearer(reader)).json()
    assert [run["id"] for run in history] == [run_id]
    assert history[0]["summary"]["headline"]["services_total"] == 13
    pdf = client.get(f"/api/v1/reports/{run_id}/files/pdf", headers=bearer(reader))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = client.get(f"/api/v1/reports/{run_id}/files/html", headers=bearer(reader))
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert client.get("/api/v1/reports/999/files/pdf", headers=bearer(reader)).status_code == 404
    sign_in(client, "viewer")
    page = client.get("/reports")
    assert page.status_code == 200 and f"#{run_id}" in page.text
    assert "Weekly AI discovery report" in page.text


def test_cli_runs_a_report_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = ServerSettings(data_dir=tmp_path)
    seeded(settings)
    assert main(["report", "run", "--name", "weekly", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "report run #1 weekly manual-" in out and ".pdf" in out
    assert main(["report", "list", "--data-dir", str(tmp_path)]) == 0
    assert "unreviewed 9" in capsys.readouterr().out
