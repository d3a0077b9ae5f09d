"""The report wire format: round trip, schema limits, clear errors."""

from __future__ import annotations

import json
import os

import pytest

from signatures import (
    MAX_ERROR_MESSAGE,
    MAX_EVIDENCE_ITEM,
    MAX_EVIDENCE_ITEMS,
    MAX_EVIDENCE_TEXT,
    MAX_HEURISTIC_LENGTH,
    MAX_INDICATOR_LENGTH,
    MAX_USER_LENGTH,
    AgentInfo,
    FindingKey,
    HostInfo,
    Report,
    ScannerError,
    WireFormatError,
    fit_finding,
    fit_scanner_error,
    parse_report,
    report_schema,
    utcnow,
    valid_text,
    validate_report,
)
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


def test_the_fitting_limits_are_the_schema_limits() -> None:
    schema = report_schema()
    evidence = schema["$defs"]["evidence"]["additionalProperties"]["anyOf"]
    finding_schema = schema["$defs"]["finding"]["properties"]
    errors = schema["properties"]["scanner_errors"]["items"]["properties"]
    assert evidence[0]["maxLength"] == MAX_EVIDENCE_TEXT
    assert evidence[4]["maxItems"] == MAX_EVIDENCE_ITEMS
    assert evidence[4]["items"]["maxLength"] == MAX_EVIDENCE_ITEM
    assert finding_schema["heuristic"]["maxLength"] == MAX_HEURISTIC_LENGTH
    assert errors["message"]["maxLength"] == MAX_ERROR_MESSAGE


def test_undecodable_bytes_are_shown_as_escapes_and_lone_surrogates_replaced() -> None:
    assert valid_text(os.fsdecode(b"l\xff.gguf")) == "l\\xff.gguf"
    assert valid_text("caf\u00e9 \U0001f916") == "caf\u00e9 \U0001f916"  # valid text unchanged
    assert valid_text("a\ud800b") == "a\ufffdb"
    assert valid_text("x" * 10, 4) == "xxxx"


def test_a_fitted_finding_fits_the_schema() -> None:
    hostile = finding(
        indicator=os.fsdecode(b"/home/b\xffob/l\xff.gguf") + "x" * 2000,
        user=os.fsdecode(b"b\xffob") * 100,
        heuristic="h" * 600,
        evidence={
            "path": os.fsdecode(b"/p\xfe") * 3000,
            "names": ["n\udcff" * 400] * 300,
            "size_bytes": 7,
        },
    )
    fitted = fit_finding(hostile)
    assert fitted.indicator.startswith("/home/b\\xffob/l\\xff.gguf")
    assert len(fitted.indicator) == MAX_INDICATOR_LENGTH
    assert fitted.user is not None and fitted.user.startswith("b\\xffob")
    error = fit_scanner_error(ScannerError("model_files", "\udcff" * 3000, "\udcfe"))
    sent = report([fitted], errors=[error])
    validate_report(json.loads(sent.to_json().decode("utf-8")))
    assert fitted.evidence["size_bytes"] == 7


def test_to_json_never_fails_on_a_lone_surrogate_anywhere() -> None:
    sent = Report(
        report_id=Report.new_id(),
        agent=AgentInfo(id="a\udcff", version="1", catalogue_version="t"),
        host=HostInfo(hostname="h\ud800", os="linux"),
        generated_at=utcnow(),
        findings=[finding(user="u\udcff", evidence={"k\udcff": ["v\udcfe"]})],
        scanner_errors=[ScannerError("s", "m\udcff", "p\udcff")],
        health={"last_delivery_error": "e\udcff"},
    )
    doc = json.loads(sent.to_json().decode("utf-8"))
    assert doc["agent"]["id"] == "a\\xff" and doc["host"]["hostname"] == "h\ufffd"
    assert doc["findings"][0]["evidence"] == {"k\\xff": ["v\\xfe"]}
    assert doc["health"]["last_delivery_error"] == "e\\xff"
