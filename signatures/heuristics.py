"""Spot likely AI that the catalogue does not name, with lower confidence than a catalogue hit.

A heuristic looks at what an unmatched observation touches rather than at its name alone.
Scanners pass the inputs as ``Observation.hints`` (never reported, only read here):

``host_permissions`` (browser extension)
    The manifest's ``host_permissions`` (and MV2 ``permissions``) match patterns.
``content_script_matches`` (browser extension)
    Every ``matches`` pattern of the manifest's ``content_scripts``.
``dependencies`` (PyPI or npm package, IDE extension)
    The names of the packages it declares as dependencies (``Requires-Dist`` or
    ``package.json`` ``dependencies``), without version specifiers.
``extension_dependencies`` (IDE extension)
    ``extensionDependencies`` / ``extensionPack`` ids of a VS Code extension.
``remote_hosts`` (process)
    Host names or IP addresses the process is connected to.

Rules, each reported with a stable reason string:

* an extension whose host permissions (medium) or content scripts (low) name specific AI hosts;
  broad patterns such as ``<all_urls>``, ``*://*/*`` or ``https://*.com/*`` never count;
* a package or IDE extension that depends on a catalogued AI SDK, or an IDE extension that
  depends on a catalogued AI extension (medium);
* a process, other than a web browser, connected to a catalogued LLM API host (medium);
* a DNS name: whatever :func:`signatures.names.judge_name` guesses (low), so that a name gets
  the same verdict here as in network capture and log import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signatures.matcher import Match, Matcher
from signatures.model import Category, IndicatorKind
from signatures.names import judge_name

# Every catalogued service is AI, but AI features inside a whole SaaS suite, and entries whose
# function is not recorded, say too little about an unknown extension or package to flag it.
_AI_CATEGORIES = frozenset(Category) - {Category.OTHER, Category.AI_IN_SAAS}
# Processes that reach AI hosts on a user's behalf while browsing: the DNS/SNI finding covers them.
_BROWSERS = frozenset(
    {
        "chrome",
        "google chrome",
        "chromium",
        "chromium-browser",
        "firefox",
        "firefox-esr",
        "msedge",
        "microsoft edge",
        "safari",
        "brave",
        "brave browser",
        "opera",
        "vivaldi",
        "arc",
        "com.apple.webkit.networking",
        "iexplore",
    }
)
_MATCH_PATTERN = re.compile(r"^(?:\*|https?|wss?|ftp)://(?P<host>[^/:]+)(?::\d+)?(?:/.*)?$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why an unmatched observation is likely AI, and how sure that is."""

    reason: str
    confidence: str  # "low" | "medium"
    related_service: str | None = None  # the catalogued service that gave the clue


def assess(
    matcher: Matcher, kind: IndicatorKind, value: str, hints: Mapping[str, object]
) -> Verdict | None:
    """Return a likely-AI verdict for an observation the catalogue did not match, or None."""
    if kind is IndicatorKind.BROWSER_EXTENSION:
        return _assess_browser_extension(matcher, hints)
    if kind is IndicatorKind.IDE_EXTENSION:
        return _assess_dependencies(matcher, hints, (IndicatorKind.NPM,)) or (
            _assess_extension_dependencies(matcher, hints)
        )
    if kind is IndicatorKind.PYPI:
        return _assess_dependencies(matcher, hints, (IndicatorKind.PYPI,))
    if kind is IndicatorKind.NPM:
        return _assess_dependencies(matcher, hints, (IndicatorKind.NPM,))
    if kind is IndicatorKind.PROCESS:
        return _assess_process(matcher, value, hints)
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
        judged = judge_name(matcher, value)
        if judged is None or judged.heuristic is None:
            return None
        return Verdict(judged.heuristic, judged.confidence.value)
    return None


def pattern_host(pattern: str) -> str | None:
    """Return the specific host a browser match pattern names, or None when it is broad."""
    found = _MATCH_PATTERN.match(pattern.strip())
    if not found:
        return None  # <all_urls>, file://, malformed
    host = found["host"].lower()
    if host.startswith("*."):
        host = host[2:]
    if "*" in host or "." not in host:
        return None  # "*", "*.com"-style or a single label: not a specific host
    return host


def _assess_browser_extension(matcher: Matcher, hints: Mapping[str, object]) -> Verdict | None:
    for key, confidence in (("host_permissions", "medium"), ("content_script_matches", "low")):
        for pattern in _strings(hints.get(key)):
            host = pattern_host(pattern)
            if host is None:
                continue
            hit = _ai_domain(matcher, host)
            if hit is not None:
                label = "host-permission" if key == "host_permissions" else "content-script"
                return Verdict(f"extension-{label}:{host}", confidence, hit.service_id)
    return None


def _assess_dependencies(
    matcher: Matcher, hints: Mapping[str, object], kinds: Iterable[IndicatorKind]
) -> Verdict | None:
    kinds = tuple(kinds)
    for dependency in sorted(_strings(hints.get("dependencies"))):
        for kind in kinds:
            hit = matcher.match_exact(kind, dependency)
            if hit is not None and _is_ai(matcher, hit):
                return Verdict(
                    f"depends-on-ai-sdk:{kind.value}:{hit.indicator}", "medium", hit.service_id
                )
    return None


def _assess_extension_dependencies(matcher: Matcher, hints: Mapping[str, object]) -> Verdict | None:
    for extension in sorted(_strings(hints.get("extension_dependencies"))):
        hit = matcher.match_exact(IndicatorKind.IDE_EXTENSION, extension)
        if hit is not None and _is_ai(matcher, hit):
            return Verdict(f"depends-on-ai-extension:{hit.indicator}", "medium", hit.service_id)
    return None


def _assess_process(matcher: Matcher, name: str, hints: Mapping[str, object]) -> Verdict | None:
    folded = name.lower().removesuffix(".exe")
    if folded in _BROWSERS or "helper" in folded:
        return None  # browsers and their helper processes
    for remote in sorted(_strings(hints.get("remote_hosts"))):
        hit = matcher.match_domain(remote) if _looks_like_name(remote) else matcher.match_ip(remote)
        if hit is None:
            continue
        service = matcher.catalogue.get(hit.service_id)
        if service is not None and service.category is Category.LLM_API_PROVIDER:
            return Verdict(f"process-connects-to-ai-api:{hit.indicator}", "medium", hit.service_id)
    return None


def _ai_domain(matcher: Matcher, host: str) -> Match | None:
    hit = matcher.match_domain(host)
    if hit is None or not _is_ai(matcher, hit):
        return None
    return hit


def _is_ai(matcher: Matcher, hit: Match) -> bool:
    service = matcher.catalogue.get(hit.service_id)
    return service is not None and service.category in _AI_CATEGORIES


def _looks_like_name(value: str) -> bool:
    return any(char.isalpha() for char in value) and ":" not in value


def _strings(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return []
    return [item for item in value if isinstance(item, str) and item]
