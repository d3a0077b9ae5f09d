"""Every catalogue entry's own examples hold: positives match it, negatives do not.

A hand-written file's examples are one test each. A generated file (``imported/``) is one test
that runs all of its examples and lists every failure: it holds thousands of services with one
positive and one negative example each, and one test per example would slow the quick run.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from signatures import Matcher, examples_of
from tests.signatures.example_runner import run_example

EXAMPLES = list(examples_of())
HAND_WRITTEN = [example for example in EXAMPLES if "/" not in example[3]]
GENERATED: dict[str, list[tuple[str, str, bool, str]]] = defaultdict(list)
for _example in EXAMPLES:
    if "/" in _example[3]:
        GENERATED[_example[3]].append(_example)


def test_every_service_has_a_positive_and_a_negative_example() -> None:
    positives = {service_id for service_id, _, should, _ in EXAMPLES if should}
    negatives = {service_id for service_id, _, should, _ in EXAMPLES if not should}
    services = {service_id for service_id, _, _, _ in EXAMPLES}
    assert services == positives
    assert services == negatives


def check(matcher: Matcher, service_id: str, example: str, should_match: bool) -> str | None:
    """Return what is wrong with one example, or None."""
    hit = run_example(matcher, example)
    if should_match and hit is None:
        return f"{service_id}: {example} matched nothing"
    if should_match and hit is not None and hit.service_id != service_id:
        return f"{service_id}: {example} matched {hit.service_id}"
    if not should_match and hit is not None and hit.service_id == service_id:
        return f"{service_id}: {example} wrongly matched"
    return None


@pytest.mark.parametrize(
    ("service_id", "example", "should_match", "file"),
    HAND_WRITTEN,
    ids=[
        f"{file}:{service_id}:{'+' if should else '-'}{example}"
        for service_id, example, should, file in HAND_WRITTEN
    ],
)
def test_example(
    matcher: Matcher, service_id: str, example: str, should_match: bool, file: str
) -> None:
    problem = check(matcher, service_id, example, should_match)
    assert problem is None, f"{file}: {problem}"


@pytest.mark.parametrize("file", sorted(GENERATED))
def test_generated_file_examples(matcher: Matcher, file: str) -> None:
    problems = [
        problem
        for service_id, example, should, _ in GENERATED[file]
        if (problem := check(matcher, service_id, example, should)) is not None
    ]
    assert problems == [], f"{file}: {len(problems)} failing examples"
