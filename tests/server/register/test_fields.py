"""One declaration of the register entry's fields serves the API schema, the form and the
labels: checked field by field, so that a new field cannot be half added."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from collector.store.register import ENTRY_FIELDS, FIELDS
from server.errors import GuardFailed
from server.register.schemas import EntryInput, parse_entry_input
from tests.server.conftest import sign_in


def test_the_api_schema_has_exactly_the_declared_fields_with_their_limits() -> None:
    assert list(EntryInput.model_fields) == [
        name for name in EntryInput.model_fields if name in FIELDS
    ]
    assert set(EntryInput.model_fields) == set(FIELDS)
    schema = EntryInput.model_json_schema()["properties"]
    for field in ENTRY_FIELDS:
        prop = schema[field.name]
        if field.kind in ("line", "text"):
            assert prop["maxLength"] == field.max_length, field.name
        elif field.kind == "choice":
            assert prop["enum"] == list(field.values), field.name
        elif field.kind == "choices":
            assert prop["items"]["enum"] == list(field.values), field.name
        elif field.kind == "months":
            assert (prop["minimum"], prop["maximum"]) == (field.minimum, field.maximum)
        elif field.kind == "links":
            assert prop["maxItems"] == field.max_items
            assert prop["items"]["maxLength"] == field.max_length


@pytest.mark.parametrize("field", [f for f in ENTRY_FIELDS if f.kind in ("line", "text")])
def test_the_declared_length_is_the_enforced_one(field: object) -> None:
    from collector.store.register import EntryField

    assert isinstance(field, EntryField)
    base = {"title": "t", "ai_system": "s"}
    parse_entry_input({**base, field.name: "x" * field.max_length})
    with pytest.raises(GuardFailed) as refused:
        parse_entry_input({**base, field.name: "x" * (field.max_length + 1)})
    assert refused.value.field == field.name


@pytest.mark.parametrize("field", [f for f in ENTRY_FIELDS if f.kind == "choice"])
def test_only_declared_choices_are_accepted(field: object) -> None:
    from collector.store.register import EntryField

    assert isinstance(field, EntryField)
    base = {"title": "t", "ai_system": "s"}
    for value in field.values:
        assert getattr(parse_entry_input({**base, field.name: value}), field.name) == value
    with pytest.raises(GuardFailed):
        parse_entry_input({**base, field.name: "not-a-choice"})


def test_the_form_offers_every_declared_field_and_shows_labels(client: TestClient) -> None:
    csrf = sign_in(client, "reviewer")
    created = client.post(
        "/register",
        data={"csrf": csrf, "title": "Meeting notes", "ai_system": "Otter"},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    location, _saved = created.headers["location"].split("?")
    page = client.get(location).text
    form = page[page.index('action="' + location + '"') :]
    form = form[: form.index("</form>")]
    for field in ENTRY_FIELDS:
        control = re.search(rf'<(input|select|textarea)[^>]*name="{field.name}"[^>]*>', form)
        assert control, f"the form has no control for {field.name}"
        if field.kind in ("line", "text"):
            assert f'maxlength="{field.max_length}"' in control.group(0), field.name
        assert unescape(field.label) in unescape(page), field.name
        for value, label in field.choices:
            assert f'value="{value}"' in form and unescape(label) in unescape(form)
    # Stored values are shown by their labels, never raw.
    assert "Not needed (assistive use)" in unescape(page)
    assert "n/a assistive" not in page and "n/a_assistive</option>" not in page
    assert "Not rated" in page


def test_a_form_post_round_trips_every_kind_of_field(client: TestClient) -> None:
    csrf = sign_in(client, "reviewer")
    location = (
        client.post(
            "/register",
            data={"csrf": csrf, "title": "Code assistant", "ai_system": "Copilot"},
            follow_redirects=False,
        )
        .headers["location"]
        .split("?")[0]
    )
    version = re.search(r'name="version" value="(\d+)"', client.get(location).text)
    assert version
    answer = client.post(
        location,
        data={
            "csrf": csrf,
            "version": version.group(1),
            "title": "Code assistant",
            "ai_system": "Copilot",
            "data_classes": ["source_code", "internal"],
            "personal_data": "on",
            "dpia_screening": "dpia_completed",
            "review_cadence_months": "6",
            "evidence_links": "https://wiki.example.com/ai/copilot\n\n",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    entry = client.get(f"/api/v1/register/{location.rsplit('/', 1)[1]}").json()
    assert entry["data_classes"] == ["internal", "source_code"]
    assert entry["personal_data"] is True
    assert entry["dpia_screening"] == "dpia_completed"
    assert entry["review_cadence_months"] == 6
    assert entry["evidence_links"] == ["https://wiki.example.com/ai/copilot"]
    page = client.get(location).text
    assert "DPIA completed" in page and "dpia completed" not in page
