"""The runner turns unmatched observations with a heuristic verdict into candidate findings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from agent.runner import run_scan
from agent.scanners.base import Observation, ScanContext, ScanItem
from signatures import Confidence, FindingKind, IndicatorKind, Matcher, load_catalogue


class FixedScanner:
    name = "fixed"
    platforms = frozenset({"linux"})

    def __init__(self, observations: list[Observation]) -> None:
        self.observations = observations

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        yield from self.observations


def test_unmatched_observation_with_a_verdict_becomes_a_candidate() -> None:
    ctx = ScanContext(platform="linux", now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    observations = [
        Observation(
            FindingKind.BROWSER_EXTENSION,
            IndicatorKind.BROWSER_EXTENSION,
            "abcdefghijklmnopabcdefghijklmnop",
            evidence={"name": "Acme Helper"},
            hints={"host_permissions": ["https://api.openai.com/*"]},
        ),
        Observation(
            FindingKind.BROWSER_EXTENSION,
            IndicatorKind.BROWSER_EXTENSION,
            "aomjjfmjlecjafonmbhlgochhaoplhmo",
            evidence={"name": "1Password"},
            hints={"host_permissions": ["<all_urls>"]},
        ),
        Observation(
            FindingKind.BROWSER_EXTENSION,
            IndicatorKind.BROWSER_EXTENSION,
            "kbfnbcaeplbcioakkpcpgfkobkghlhen",
            evidence={"name": "Grammarly"},
        ),
        Observation(
            FindingKind.IDE_EXTENSION,
            IndicatorKind.IDE_EXTENSION,
            "ms-toolsai.jupyter",
            hints={"extension_dependencies": ["ms-python.python"]},
        ),
    ]
    result = run_scan(ctx, [FixedScanner(observations)], Matcher(load_catalogue()))
    by_indicator = {finding.indicator: finding for finding in result.findings}
    assert set(by_indicator) == {
        "abcdefghijklmnopabcdefghijklmnop",
        "kbfnbcaeplbcioakkpcpgfkobkghlhen",
    }
    candidate = by_indicator["abcdefghijklmnopabcdefghijklmnop"]
    assert candidate.service_id is None
    assert candidate.heuristic == "extension-host-permission:api.openai.com"
    assert candidate.confidence is Confidence.MEDIUM
    assert candidate.evidence["related_service"] == "openai-api"
    known = by_indicator["kbfnbcaeplbcioakkpcpgfkobkghlhen"]
    assert known.service_id == "grammarly" and known.heuristic is None
