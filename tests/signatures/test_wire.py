"""The report wire format: round trip, schema limits, clear errors."""

from __future__ import annotations

import json

import pytest

from signatures import Report, WireFormatError, parse_report, validate_report
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
