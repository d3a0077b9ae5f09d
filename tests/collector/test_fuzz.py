"""The collector's own report parser (ingest's first step) raises only ReportRejected, whatever
bytes arrive: the bodies the wire-format fuzz sends, plus lone surrogates in any string."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.errors import ReportRejected
from collector.ingest import parse_agent_report
from tests.fuzzing import count_example, fuzzed
from tests.signatures.test_fuzz import VALID, bodies

SURROGATES = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)


def _with_surrogate(path: str, text: str) -> bytes:
    doc = json.loads(json.dumps(VALID))
    if path == "hostname":
        doc["host"]["hostname"] = "h" + text
    elif path == "indicator":
        doc["findings"][0]["indicator"] = text
    else:
        doc["findings"][0]["evidence"][text] = text
    return json.dumps(doc).encode()  # written as \\udxxx escapes, as a hostile client would


surrogate_bodies = st.builds(
    _with_surrogate, st.sampled_from(["hostname", "indicator", "evidence"]), SURROGATES
)


@pytest.mark.slow
@fuzzed(max_examples=300)
@given(st.one_of(bodies, surrogate_bodies))
def test_parse_agent_report_raises_only_report_rejected(body: bytes) -> None:
    count_example()
    with contextlib.suppress(ReportRejected):
        report = parse_agent_report(body)
        # What was accepted is text every database stores.
        report.to_json().decode("utf-8")
        json.dumps(json.loads(report.to_json())).encode("utf-8")
