"""Every catalogue entry's own examples hold: positives match it, negatives do not."""

from __future__ import annotations

import pytest

from signatures import Matcher, examples_of
from tests.signatures.example_runner import run_example

EXAMPLES = list(examples_of())


def test_every_service_has_a_positive_and_a_negative_example() -> None:
    positives = {service_id for service_id, _, should, _ in EXAMPLES if should}
    negatives = {service_id for service_id, _, should, _ in EXAMPLES if not should}
    services = {service_id for service_id, _, _, _ in EXAMPLES}
    assert services == positives
    assert services == negatives


@pytest.mark.parametrize(
    ("service_id", "example", "should_match", "file"),
    EXAMPLES,
    ids=[
        f"{file}:{service_id}:{'+' if should else '-'}{example}"
        for service_id, example, should, file in EXAMPLES
    ],
)
def test_example(
    matcher: Matcher, service_id: str, example: str, should_match: bool, file: str
) -> None:
    hit = run_example(matcher, example)
    if should_match:
        assert hit is not None, f"{file}: {service_id}: {example} matched nothing"
        assert hit.service_id == service_id, f"{example} matched {hit.service_id}"
    else:
        assert hit is None or hit.service_id != service_id, f"{example} wrongly matched"
