"""Policy reminders through a real SMTP server on loopback (aiosmtpd): each person still to
acknowledge gets their own link, and following it records their acknowledgement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.db import make_engine, make_sessionmaker, transaction, upgrade
from collector.errors import Conflict
from collector.store import people
from server.app import create_app
from server.config import ServerSettings
from server.people.service import import_directory
from server.policies import service
from tests.server.reports.test_reports import Inbox, smtp  # noqa: F401 - the fixture


def test_reminders_carry_each_persons_link(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, port = smtp
    settings = ServerSettings(
        data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_from="aims@example.org",
        public_url="https://aims.example.org", scheduler_enabled=False,
    )  # fmt: skip
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        import_directory(
            session, actor="admin",
            data=b"username,department,email\nann,Sales,ann@example.org\nbob,IT,\ncy,IT,cy@example.org\n",
        )  # fmt: skip
        policy = service.draft_policy(
            session, actor="admin", policy_key="ai-use", title="AI use", body_markdown="Rules",
            approver_role="CISO",
        )  # fmt: skip
        with pytest.raises(Conflict):
            service.send_reminders(session, actor="admin", settings=settings, policy_id=policy.id)
        service.publish_policy(session, actor="admin", policy_id=policy.id)
        cy = people.find_person(session, username="cy")
        assert cy is not None
        service.acknowledge(session, policy=policy, person=cy, via="signed_in")
        sent = service.send_reminders(
            session, actor="admin", settings=settings, policy_id=policy.id
        )
        policy_id = policy.id
    assert sent == ["ann@example.org"]  # bob has no address, cy has acknowledged
    body = inbox.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://aims\.example\.org(/acknowledge/\S+)", body)
    assert link, body
    with TestClient(create_app(settings)) as client:
        page = client.get(link.group(1))
        assert page.status_code == 200 and "AI use" in page.text
        assert client.post(link.group(1), follow_redirects=False).status_code == 303
        forged = link.group(1)[:-1] + ("0" if link.group(1)[-1] != "0" else "1")
        assert client.get(forged).status_code == 404
    with transaction(sessions) as session:
        current = service.policies.get_policy_version(session, policy_id=policy_id)
        coverage = {
            row.department: row.done
            for row in service.acknowledgement_coverage(session, policy=current)
        }
    assert coverage == {"IT": 1, "Sales": 1}
    engine.dispose()
