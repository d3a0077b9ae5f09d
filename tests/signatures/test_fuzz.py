"""Fuzzing the report wire format: any bytes give a report or a WireFormatError, nothing else."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signatures import (
    Report,
    SignaturesError,
    fit_finding,
    fit_scanner_error,
    parse_report,
    validate_report,
)
from tests.factories import finding, report
from tests.fuzzing import JSON, TEXT, count_example, fuzzed, json_bytes, mutated, shaped

VALID = json.loads(
    report(
        [finding(), finding(None, indicator="x.example", heuristic="looks like an API")]
    ).to_json()
)
VALID["health"] = {"agent_version": "1", "spool_bytes": 10, "watchdog": "ok", "x": ["a"]}
VALID["scanner_errors"] = [{"scanner": "s", "message": "m", "path": None}]
VALID["kind"] = "delta"

bodies = st.one_of(
    shaped(VALID).map(json_bytes),
    mutated(json_bytes(VALID)),
    JSON.map(json_bytes),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"[" * 5000 + b"]" * 5000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b"1" * 5000,
            b"\xef\xbb\xbf{}",
            "{}".encode("utf-16"),
        ]
    ),
    # Times at the edges of what datetime can hold.
    st.sampled_from(
        ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-02-30T00:00:00Z"]
    ).map(lambda when: json_bytes({**VALID, "generated_at": when})),
)


@pytest.mark.slow
@fuzzed(max_examples=300)
@given(bodies)
def test_parse_report_raises_only_wire_format_errors(body: bytes) -> None:
    count_example()
    with contextlib.suppress(SignaturesError):
        parsed = parse_report(body)
        # What was accepted serialises again, to a document the schema accepts.
        validate_report(json.loads(parsed.to_json()))


@pytest.mark.slow
@fuzzed(max_examples=150)
@given(shaped(VALID))
def test_a_document_the_schema_accepts_builds_a_report(doc: Any) -> None:
    count_example()
    try:
        validate_report(doc)
    except SignaturesError:
        return
    with contextlib.suppress(SignaturesError):
        Report.from_dict(doc).to_json()


@pytest.mark.slow
@fuzzed(max_examples=150)
@given(
    TEXT,
    st.one_of(st.none(), TEXT),
    st.one_of(st.none(), TEXT),
    st.dictionaries(TEXT, st.one_of(JSON, st.lists(TEXT, max_size=300)), max_size=5),
    TEXT,
)
def test_a_fitted_finding_always_makes_a_valid_report(
    indicator: str, user: str | None, heuristic: str | None, evidence: Any, message: str
) -> None:
    count_example()
    evidence = {
        key[:64]: value
        for key, value in evidence.items()
        if value is None or isinstance(value, str | int | float | bool | list)
    }
    evidence = {
        key: value
        for key, value in evidence.items()
        if not isinstance(value, list) or all(isinstance(item, str) for item in value)
    }
    # The agent never reports NaN or infinities; JSON has no such numbers.
    evidence = {
        key: value
        for key, value in evidence.items()
        if not isinstance(value, float) or (value == value and abs(value) != float("inf"))
    }
    fitted = fit_finding(
        finding(indicator=indicator or "x", user=user, heuristic=heuristic, evidence=evidence)
    )
    error = fit_scanner_error(finding_error(message))
    validate_report(json.loads(report([fitted], errors=[error]).to_json()))


def finding_error(message: str) -> Any:
    from signatures import ScannerError

    return ScannerError(scanner="fuzz", message=message, path=message)
