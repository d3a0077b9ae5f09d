"""Deliver a rendered report: by email (SMTP), to a folder, or as a signed webhook notice.
Each function raises DeliveryFailed naming the channel; the runner records the outcome."""

from __future__ import annotations

import json
import shutil
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from server.config import ServerSettings
from server.errors import DeliveryFailed, DestinationRefused
from server.outbound.client import describe_failure, describe_status, outbound_client
from server.reports.render import MEDIA_TYPES
from server.signing import SIGNATURE_HEADER, derive_key, master_key, sign

REPORT_WEBHOOK_PURPOSE = "report-webhook"


def email_report(
    settings: ServerSettings,
    *,
    subject: str,
    summary: list[str],
    html: str,
    attachments: dict[str, tuple[str, bytes]],
) -> list[str]:
    """Send the report to ``report_email_to``; return the recipients."""
    recipients = [part.strip() for part in settings.report_email_to.split(",") if part.strip()]
    if not recipients:
        raise DeliveryFailed("email", "no recipients configured (report_email_to)")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message.set_content("\n".join(summary) + "\n\nThe full report is attached.\n")
    message.add_alternative(html, subtype="html")
    for filename, (fmt, content) in attachments.items():
        maintype, subtype = MEDIA_TYPES[fmt].split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed("email", f"{type(exc).__name__}: {exc}") from exc
    return recipients


def copy_to_folder(folder: Path, files: dict[str, Path]) -> list[str]:
    """Copy the report files into ``folder``; return the paths written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for filename, source in files.items():
            target = folder / filename
            shutil.copyfile(source, target)
            written.append(str(target))
    except OSError as exc:
        raise DeliveryFailed("folder", str(exc)) from exc
    return written


def notify_webhook(settings: ServerSettings, *, url: str, payload: dict[str, Any]) -> int:
    """POST a signed JSON notice of the finished report through the outbound client (a host
    that does not resolve to a public address is refused unless outbound_allow names it);
    return the HTTP status."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    key = derive_key(master_key(settings.data_dir), REPORT_WEBHOOK_PURPOSE)
    try:
        with outbound_client(settings, timeout=15) as client:
            response = client.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(key, body)},
            )
    except (DestinationRefused, httpx.HTTPError) as exc:
        raise DeliveryFailed("webhook", describe_failure(exc)) from exc
    if response.status_code >= 300:
        raise DeliveryFailed("webhook", describe_status(response.status_code))
    return response.status_code
