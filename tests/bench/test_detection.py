"""The detection benchmark: its labelled set is big enough and sourced, and its run pairs what
the agent's real paths find with the labels (on a slice; the full run is python -m
bench.detection)."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.detection.evaluate import evaluate, without_labelled
from bench.detection.labelled import load
from signatures import Catalogue, IndicatorKind, Matcher

MINIMUM = {
    "browser_extension": {"ai": 300, "non-ai": 200},
    "ide_extension": {"ai": 25, "non-ai": 25},
    "hostname": {"ai": 300, "non-ai": 300},
}


@pytest.mark.parametrize("kind", sorted(MINIMUM))
def test_the_labelled_set_is_big_enough_and_every_row_has_a_source(kind: str) -> None:
    items = load(kind)
    counts = Counter(item.label for item in items)
    for label, minimum in MINIMUM[kind].items():
        assert counts[label] >= minimum
    for item in items:  # repository:path@commit, or a hand-listed trap with its reason
        ref = item.fields["source_ref"]
        assert "@" in ref or (ref.startswith("hand-listed:") and item.fields["note"])


def test_removing_the_labelled_items_from_the_catalogue(catalogue: Catalogue) -> None:
    hosts = [item for item in load("hostname") if item.label == "ai"]
    stripped = without_labelled(catalogue, "hostname", hosts)
    matcher = Matcher(stripped)
    assert all(matcher.match_domain(item.key) is None for item in hosts)
    assert Matcher(catalogue).match_domain("chatgpt.com") is not None
    extensions = [item for item in load("browser_extension") if item.label == "ai"]
    bare = Matcher(without_labelled(catalogue, "browser_extension", extensions))
    assert all(
        bare.match_exact(IndicatorKind.BROWSER_EXTENSION, item.key) is None for item in extensions
    )


def test_a_slice_runs_through_the_agents_paths(catalogue: Catalogue) -> None:
    for kind in ("browser_extension", "ide_extension", "hostname"):
        items = load(kind)
        sample = [i for i in items if i.label == "ai"][:15] + [
            i for i in items if i.label == "non-ai"
        ][:15]
        shipped, alone = evaluate(kind, sample, catalogue)
        assert shipped.ai == alone.ai == 15 and shipped.non_ai == 15
        assert shipped.found >= alone.found and shipped.found > 0
        assert shipped.false_positives == []
