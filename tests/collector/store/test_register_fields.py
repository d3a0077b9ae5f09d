"""The register entry's fields are declared once: the table's columns follow the declaration."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text

from collector.store.register import ENTRY_FIELDS, FIELDS, RegisterEntry


def test_every_declared_field_has_a_column_of_the_declared_width() -> None:
    columns = RegisterEntry.__table__.columns
    for field in ENTRY_FIELDS:
        column = columns[field.name]
        if field.kind in ("line", "choice"):
            assert isinstance(column.type, String) and not isinstance(column.type, Text)
            assert column.type.length == field.max_length, field.name
        elif field.kind == "text":
            assert isinstance(column.type, Text), field.name
        elif field.kind == "months":
            assert isinstance(column.type, Integer), field.name


def test_choices_fit_their_column_and_defaults_are_choices() -> None:
    for field in ENTRY_FIELDS:
        if field.kind != "choice":
            continue
        assert field.default in field.values, field.name
        assert max(len(value) for value in field.values) <= field.max_length, field.name
        assert RegisterEntry.__table__.columns[field.name].default.arg == field.default


def test_every_choice_has_a_label_people_can_read() -> None:
    for field in ENTRY_FIELDS:
        for value, label in field.choices:
            assert label and "_" not in label, (field.name, value)
        assert field.label and "_" not in field.label
    assert FIELDS["human_oversight"].label_of("n/a_assistive") == "Not needed (assistive use)"
    assert FIELDS["dpia_screening"].label_of("dpia_completed") == "DPIA completed"
    assert FIELDS["risk_level"].label_of("something-else") == "something-else"
