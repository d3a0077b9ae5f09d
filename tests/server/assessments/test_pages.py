"""Assessment pages: an admin edits a template, the next assessment asks its questions
(escaped), a reviewer completes it from the entry page and the entry shows it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from collector.db import transaction
from server.register import service
from server.register.schemas import EntryInput
from tests.server.conftest import sign_in

HOSTILE = "<script>window.__pwned=1</script> Who reviews it?"


def test_an_edited_template_drives_the_next_assessment(client: TestClient) -> None:
    with transaction(client.app.state.shadowmap.sessions) as session:  # type: ignore[attr-defined]
        entry = service.create_entry(
            session, actor="rita", fields=EntryInput(title="Chat", ai_system="ChatGPT")
        )
    csrf = sign_in(client, "admin")
    saved = client.post(
        "/assessment-templates/human_oversight_design",
        data={"csrf": csrf, "questions": f"{HOSTILE}\n\nHow is it stopped?\n"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    form = client.get(
        f"/assessments/new?register_id={entry.register_id}&kind=human_oversight_design"
    ).text
    assert HOSTILE not in form and "&lt;script&gt;" in form
    assert len(re.findall(r'name="answer-\d"', form)) == 2
    done = client.post(
        "/assessments",
        data={"csrf": csrf, "register_id": entry.register_id, "kind": "human_oversight_design",
              "answer-0": "The team lead", "answer-1": "Switch off the plugin"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303
    page = client.get(f"/register/{entry.register_id}").text
    assert "Human-oversight design</a> · completed" in page
    refused = client.post(
        "/assessments",
        data={"csrf": csrf, "register_id": entry.register_id, "kind": "human_oversight_design",
              "answer-0": "only one"},
        headers={"Accept": "text/html"},
    )  # fmt: skip
    assert refused.status_code == 422 and "answers.2" in refused.text
