"""Fuzzing log import: any bytes in any format import without error, into reports that validate."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.logimport import FORMATS, read_log
from signatures import Matcher, validate_report
from tests.collector.logimport.test_importer import SAMPLES
from tests.fuzzing import TEXT, count_example, fuzzed, mutated

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SEPARATORS = ("\t", " ", ":", "#", "[", "]", "(", ")", "/", "|")


@st.composite
def lines_of(draw: st.DrawFn, sample: str) -> bytes:
    """A log of ``sample``'s lines with fields replaced, hostile lines and bytes mixed in."""
    lines = sample.splitlines()
    out: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["sample", "field", "text", "bytes", "header"]))
        line = draw(st.sampled_from(lines))
        if kind == "field":  # one field of a real line replaced by hostile text
            separator = draw(st.sampled_from(SEPARATORS))
            parts = line.split(separator)
            parts[draw(st.integers(0, len(parts) - 1))] = draw(TEXT)
            line = separator.join(parts)
        elif kind == "text":
            line = draw(TEXT)
        elif kind == "header":
            line = "#" + draw(st.sampled_from(["separator ", "fields\t", "path\t"])) + draw(TEXT)
        if kind == "bytes":
            out.append(draw(st.one_of(st.binary(max_size=120), mutated(line.encode()))))
        else:
            out.append(line.encode("utf-8", "surrogatepass"))
    return b"\n".join(out) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@pytest.mark.slow
@fuzzed(max_examples=300)
@given(
    st.sampled_from(FORMATS).flatmap(lambda name: st.tuples(st.just(name), lines_of(SAMPLES[name])))
)
def test_any_log_imports_into_reports_the_schema_accepts(
    matcher: Matcher, case: tuple[str, bytes]
) -> None:
    count_example()
    format_name, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.log"
        path.write_bytes(data)
        # No error of any kind, not even a LogImportError: a bad line costs that line only.
        result = read_log(path, format_name, matcher, now=NOW)
    stats = result.stats
    assert stats.lookups + stats.unparsed + stats.malformed <= stats.lines
    for report in result.reports:
        validate_report(json.loads(report.to_json()))
