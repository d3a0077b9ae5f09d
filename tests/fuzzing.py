"""The fuzz suite's shared settings, strategies and accounting.

Every parser and reader that takes outside bytes is fuzzed with Hypothesis under the ``fuzz``
marker: ``pytest -m fuzz`` runs the suite alone and ends with a summary of its examples and
time. Each test has a fixed example budget and a per-example deadline (:func:`fuzzed`), so the
suite's run time is bounded in CI. A test asserts that only the project's own errors come out
(:data:`OWN_ERRORS`, or ScannerError values); anything else fails it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import plistlib
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from agent.errors import AgentError
from collector.errors import CollectorError
from signatures import SignaturesError

# The roots of the project's exception trees (agent/errors.py, signatures/errors.py,
# collector/errors.py): the only exceptions a reader of outside bytes may raise.
OWN_ERRORS: tuple[type[Exception], ...] = (AgentError, SignaturesError, CollectorError)

# Long enough for a slow shared CI machine, short enough that a pathological input (a parser
# going quadratic) fails the example.
DEADLINE = dt.timedelta(seconds=10)

_F = TypeVar("_F", bound=Callable[..., Any])

EXAMPLES: Counter[str] = Counter()
SECONDS: dict[str, float] = {}


def fuzzed(max_examples: int) -> Callable[[_F], _F]:
    """Mark a test as part of the fuzz suite with a fixed example budget."""

    def decorate(test: _F) -> _F:
        bounded = settings(
            max_examples=max_examples,
            deadline=DEADLINE,
            database=None,  # every run starts afresh: nothing written into the work tree
            # CI replays the same examples on every run, so that a submission is judged on its
            # own change; a developer's run explores new ones (and a find becomes a test case).
            derandomize=bool(os.environ.get("CI")),
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return pytest.mark.fuzz(bounded)  # type: ignore[no-any-return]

    return decorate


def count_example() -> None:
    """Count one example of the running test (for the suite's summary)."""
    EXAMPLES[os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]] += 1


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "fuzz" in report.keywords:
        SECONDS[report.nodeid] = report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not SECONDS:
        return
    terminalreporter.section("fuzz suite")
    for nodeid, seconds in sorted(SECONDS.items()):
        terminalreporter.write_line(f"{EXAMPLES[nodeid]:6d} examples {seconds:7.2f} s  {nodeid}")
    total = sum(EXAMPLES[nodeid] for nodeid in SECONDS)
    terminalreporter.write_line(
        f"fuzz suite: {len(SECONDS)} tests, {total} examples, {sum(SECONDS.values()):.1f} s"
    )


# -- strategies --------------------------------------------------------------------------------

# Text a hostile file may hold: NUL, lone surrogates (a JSON "\ud800" escape decodes to one),
# traversal, BOMs, Chromium's message placeholders, very long values.
SPECIAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "..",
        "../../../etc/passwd",
        "/",
        "a\x00b",
        "en\x00",
        "__MSG_appName__",
        "__MSG_",
        "\ud800",
        "a\udcffb",
        "\ufeff{",
        "C:\\Users\\x",
        "x" * 1100,  # past the wire format's 1,024-character limits
        "\U0001f916",
        "%s%n",
        "\\",
        "\n\r\t",
        "chatgpt.com",
        "openai",
        "github.copilot",
    ]
)
TEXT = st.one_of(st.text(max_size=30), SPECIAL_TEXT)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 13_300_000_000_000_000]),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)


def shaped(template: Any) -> st.SearchStrategy[Any]:
    """Documents shaped like ``template``: each value kept, replaced by anything, or left out."""
    if isinstance(template, dict):
        fields = {key: shaped(value) for key, value in template.items()}
        return st.one_of(st.fixed_dictionaries({}, optional=fields), JSON)
    if isinstance(template, list) and template:
        return st.one_of(
            st.lists(st.one_of(*(shaped(item) for item in template)), max_size=3), JSON
        )
    return st.one_of(st.just(template), JSON)


def json_bytes(value: Any) -> bytes:
    # ensure_ascii: lone surrogates become \udXXX escapes, as a hostile file would write them.
    return json.dumps(value).encode()


def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` cut short, with bytes overwritten, or with bytes inserted."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(valid)
        for _ in range(draw(st.integers(0, 4))):
            if not data:
                break
            where = draw(st.integers(0, len(data) - 1))
            action = draw(st.sampled_from(["set", "insert", "delete"]))
            if action == "set":
                data[where] = draw(st.integers(0, 255))
            elif action == "insert":
                data[where:where] = draw(st.binary(min_size=1, max_size=8))
            else:
                del data[where : where + draw(st.integers(1, 8))]
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
        return bytes(data)

    return build()


def json_file(template: Any) -> st.SearchStrategy[bytes]:
    """The bytes of a JSON file a reader expects to look like ``template``, or of anything."""
    return st.one_of(
        shaped(template).map(json_bytes),
        JSON.map(json_bytes),
        mutated(json_bytes(template)),
        st.binary(max_size=200),
        st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    )


def text_file(lines: list[str]) -> st.SearchStrategy[bytes]:
    """The bytes of a line-based text file, from ``lines`` with hostile lines mixed in."""
    line = st.one_of(st.sampled_from(lines), TEXT, st.builds("=".join, st.lists(TEXT, max_size=3)))
    return st.one_of(
        st.lists(line, max_size=10).map(
            lambda items: "\n".join(items).encode("utf-8", "surrogatepass")
        ),
        mutated("\n".join(lines).encode()),
        st.binary(max_size=300),
    )


def plist_file(template: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """The bytes of a plist (XML or binary) shaped like ``template``, damaged or not."""
    return st.one_of(
        mutated(plistlib.dumps(template, fmt=plistlib.FMT_XML)),
        mutated(plistlib.dumps(template, fmt=plistlib.FMT_BINARY)),
        st.binary(max_size=200),
    )


# File and folder names: any bytes a POSIX name may hold, invalid UTF-8 included.
NAMES = st.binary(min_size=1, max_size=40).filter(
    lambda name: b"/" not in name and b"\x00" not in name and name not in (b".", b"..")
)
