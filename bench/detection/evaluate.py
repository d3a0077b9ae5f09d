"""Run the labelled set through the agent's real paths and count what each one finds.

Two figures per kind: (a) the shipped pipeline, catalogue then heuristics; (b) the heuristics
alone, on a catalogue from which every indicator that names a labelled item was removed, so
that what the heuristics generalise to is visible apart from what the catalogue lists.
"""

from __future__ import annotations

import dataclasses
import struct
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent.network.observe import NetworkObserver
from agent.runner import run_scan
from agent.scanners.base import ScanContext, Scanner
from agent.scanners.browsers import BrowserExtensionScanner
from agent.scanners.ide import IdeExtensionScanner
from bench.detection.labelled import Item
from bench.detection.layout import install_browser_extensions, install_ide_extensions, make_user
from signatures import Catalogue, Finding, IndicatorKind, Matcher

KINDS = ("browser_extension", "ide_extension", "hostname")
_INDICATOR = {
    "browser_extension": (IndicatorKind.BROWSER_EXTENSION,),
    "ide_extension": (IndicatorKind.IDE_EXTENSION,),
    "hostname": (IndicatorKind.DOMAIN, IndicatorKind.HOST),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the pipeline said of one labelled item (None: nothing found)."""

    item: Item
    finding: Finding | None

    @property
    def found(self) -> bool:
        return self.finding is not None

    @property
    def by(self) -> str:
        """``catalogue`` or the heuristic's rule (its reason up to the first colon)."""
        if self.finding is None:
            return "-"
        if self.finding.service_id is not None:
            return "catalogue"
        return (self.finding.heuristic or "").split(":", 1)[0]


@dataclass(slots=True)
class Figures:
    """Recall on the AI items and false positives on the non-AI ones."""

    outcomes: list[Outcome] = field(default_factory=list)

    def of(self, label: str) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.item.label == label]

    @property
    def ai(self) -> int:
        return len(self.of("ai"))

    @property
    def found(self) -> int:
        return sum(outcome.found for outcome in self.of("ai"))

    @property
    def non_ai(self) -> int:
        return len(self.of("non-ai"))

    @property
    def false_positives(self) -> list[Outcome]:
        return [outcome for outcome in self.of("non-ai") if outcome.found]

    @property
    def missed(self) -> list[Outcome]:
        return [outcome for outcome in self.of("ai") if not outcome.found]

    @property
    def recall(self) -> float:
        return self.found / self.ai if self.ai else 0.0

    def rules(self) -> Counter[str]:
        """How many AI items each rule (or the catalogue) found."""
        return Counter(outcome.by for outcome in self.of("ai") if outcome.found)


def without_labelled(catalogue: Catalogue, kind: str, items: Iterable[Item]) -> Catalogue:
    """Return the catalogue less every indicator that names a labelled item of ``kind``.

    Extensions lose the id indicator; a hostname loses each domain or host indicator that the
    judge matches it by, repeatedly, until no catalogue entry names it any more.
    """
    keys = [item.key for item in items]
    removed: set[tuple[IndicatorKind, str]] = set()
    while True:
        matcher = Matcher(catalogue)
        found: set[tuple[IndicatorKind, str]] = set()
        for key in keys:
            if kind == "hostname":
                match = matcher.match_domain(key.lower())
            else:
                match = matcher.match_exact(_INDICATOR[kind][0], key)
            if match is not None:
                found.add((match.kind, match.indicator))
        if not found:
            return catalogue
        removed |= found
        catalogue = _drop(catalogue, removed)


def _drop(catalogue: Catalogue, removed: set[tuple[IndicatorKind, str]]) -> Catalogue:
    folded = {(kind, value.lower()) for kind, value in removed}
    services = []
    for service in catalogue.services:
        indicators = {
            kind: tuple(value for value in values if (kind, value.lower()) not in folded)
            for kind, values in service.indicators.items()
        }
        services.append(dataclasses.replace(service, indicators=indicators))
    return Catalogue(version=catalogue.version, services=tuple(services))


def scan_items(
    items: list[Item], matcher: Matcher, install: Callable[[Path, list[Item]], None]
) -> Figures:
    """Install the items in a fresh home, run the scanner and the runner, pair the findings."""
    scanner: Scanner = (
        BrowserExtensionScanner()
        if items and items[0].kind == "browser_extension"
        else IdeExtensionScanner()
    )
    with tempfile.TemporaryDirectory(prefix="shadowmap-detection-") as tmp:
        root = Path(tmp)
        user = make_user(root)
        install(user.home, items)
        result = run_scan(
            ScanContext(root=root, users=(user,), platform="linux"), (scanner,), matcher
        )
    if result.errors:
        raise RuntimeError(f"the scanner could not read the laid-out items: {result.errors[:3]}")
    by_key = {finding.indicator.lower(): finding for finding in result.findings}
    return Figures([Outcome(item, by_key.get(item.key.lower())) for item in items])


def judge_hostnames(items: list[Item], matcher: Matcher) -> Figures:
    """Feed each hostname to the capture's observer as a DNS query; pair what it keeps."""
    outcomes = []
    for item in items:
        observer = NetworkObserver(matcher, source="live")
        observer.dns_message(_dns_query(item.key), b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x35", 0.0)
        findings = observer.drain()
        outcomes.append(Outcome(item, findings[0] if findings else None))
    return Figures(outcomes)


def _dns_query(name: str) -> bytes:
    """Return a one-question DNS query for ``name`` (type A)."""
    encoded = b"".join(
        bytes([len(label)]) + label for label in (part.encode("idna") for part in name.split("."))
    )
    return struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + encoded + b"\x00" + b"\x00\x01\x00\x01"


def evaluate(kind: str, items: list[Item], catalogue: Catalogue) -> tuple[Figures, Figures]:
    """Return (shipped pipeline, heuristics alone) figures for one kind."""
    ai_items = [item for item in items if item.label == "ai"]
    stripped = without_labelled(catalogue, kind, ai_items)
    if kind == "hostname":
        return judge_hostnames(items, Matcher(catalogue)), judge_hostnames(items, Matcher(stripped))
    install = install_browser_extensions if kind == "browser_extension" else install_ide_extensions
    return (
        scan_items(items, Matcher(catalogue), install),
        scan_items(items, Matcher(stripped), install),
    )
