"""The report wire format: round trip, schema limits, clear errors."""

from __future__ import annotations

import json

import pytest

from signatures import (
    FindingKey,
    Report,
    WireFormatError,
    parse_report,
    report_schema,
    validate_report,
)
from signatures.wire import MAX_INDICATOR_LENGTH, MAX_USER_LENGTH
from tests.factories import finding, report


def test_report_round_trips_through_json() -> None:
    sent = report([finding(), finding(None, indicator="x.example", heuristic="looks like an API")])
    received = parse_report(sent.to_json())
    assert received == sent


def test_report_schema_rejects_with_a_path() -> None:
    doc = json.loads(report([finding()]).to_json())
    doc["findings"][0]["confidence"] = "certain"
    with pytest.raises(WireFormatError) as caught:
        validate_report(doc)
    assert caught.value.path == "findings[0].confidence"


@pytest.mark.slow
def test_reports_have_size_and_count_limits() -> None:
    doc = json.loads(report([finding()]).to_json())
    doc["findings"] = doc["findings"] * 20_001
    with pytest.raises(WireFormatError, match="maxItems=20000"):
        validate_report(doc)
    with pytest.raises(WireFormatError, match="exceeds"):
        parse_report(b" " * (8 * 1024 * 1024 + 1))


def test_report_ids_are_uuids() -> None:
    doc = json.loads(report([]).to_json())
    doc["report_id"] = "'; DROP TABLE reports; --"
    with pytest.raises(WireFormatError) as caught:
        validate_report(doc)
    assert caught.value.path == "report_id"
    assert Report.new_id() != Report.new_id()


def test_a_finding_key_is_cut_at_the_schema_limits() -> None:
    finding_schema = report_schema()["$defs"]["finding"]["properties"]
    assert finding_schema["indicator"]["maxLength"] == MAX_INDICATOR_LENGTH
    assert finding_schema["user"]["maxLength"] == MAX_USER_LENGTH

    long = finding(indicator="a" * MAX_INDICATOR_LENGTH + "-tail", user="u" * 300)
    key = long.key()
    assert key.indicator == "a" * MAX_INDICATOR_LENGTH and key.user == "u" * MAX_USER_LENGTH
    assert key == finding(indicator="a" * MAX_INDICATOR_LENGTH, user="u" * 256).key()


def test_a_finding_key_keeps_the_shape_agents_stored_in_their_spool() -> None:
    # Agents keep their baseline keyed by the JSON of this key: the field order is on disk.
    assert json.dumps(finding().key()) == '["process", "openai-chatgpt", "ChatGPT", "alice"]'
    assert finding(service_id=None, user=None).key() == FindingKey("process", "", "ChatGPT", "")
