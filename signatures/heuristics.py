"""Spot likely AI that the catalogue does not name, with lower confidence than a catalogue hit.

A heuristic reads what an unmatched observation declares and touches rather than its id.
Scanners pass the inputs as ``Observation.hints`` (never reported, only read here), built by
:mod:`signatures.manifests` for extensions:

``name``, ``short_name``, ``description``, ``homepage_url``, ``permissions``,
``host_permissions``, ``content_script_matches`` (browser extension)
    The manifest's fields, ``__MSG_*__`` values resolved through ``_locales``.
``name``, ``description``, ``categories``, ``contributes``, ``dependencies``,
``extension_dependencies`` (VS Code extension); ``plugin_dependencies``,
``extension_namespaces`` (JetBrains plugin)
    What the extension's ``package.json`` or ``plugin.xml`` declares.
``dependencies`` (PyPI or npm package)
    The names of the packages it declares as dependencies, without version specifiers.
``remote_hosts`` (process)
    Host names or IP addresses the process is connected to.

Rules, each reported with a stable reason string (docs/signatures.md has the table):

* a browser extension whose host permissions name specific AI hosts (medium; with a side
  panel, its own reason), whose name or short name says AI (medium), whose content scripts
  or homepage are on AI hosts (low), or whose description says AI of a task (low); broad
  patterns such as ``<all_urls>`` never count, and words are read by
  :mod:`signatures.wording` (brand tokens with word boundaries and trap words);
* an IDE extension that declares a chat participant or a language-model provider, depends on
  the JetBrains AI platform, on an AI SDK or on a catalogued AI extension (medium), or whose
  name or description says AI (low; medium with AI categories or Copilot tooling, which alone
  prove nothing: pull-request, Python and Jupyter extensions declare them);
* a package that depends on a catalogued AI SDK (medium);
* a process, other than a web browser, connected to a catalogued LLM API host (medium);
* a DNS name: whatever :func:`signatures.names.judge_name` guesses (low), so that a name gets
  the same verdict here as in network capture and log import.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signatures.matcher import Match, Matcher
from signatures.model import Category, IndicatorKind
from signatures.names import judge_name
from signatures.wording import Terms, ai_terms

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
# VS Code contribution points that only an AI extension declares: a chat participant, a
# language-model provider, an MCP server definition provider.
IDE_AI_CONTRIBUTIONS = frozenset(
    {"chatParticipants", "languageModels", "languageModelChatProviders", "chatAgents"}
)
# Contribution points that any extension may declare to serve an AI assistant (GitHub's
# pull-request extension declares tools, chat context and skills; Jupyter and Python tools).
IDE_AI_TOOLING = frozenset(
    {
        "languageModelTools",
        "mcpServerDefinitionProviders",
        "chatContext",
        "chatSkills",
        "chatSessions",
        "chatPromptFiles",
        "chatInstructions",
        "chatModes",
    }
)
_MCP = re.compile(r"\bMCP\b")
# JetBrains plugin ids and extension namespaces of the IDE's AI platform (AI Assistant, the
# MCP server, full-line completion): a plugin that depends on or extends them is AI.
JETBRAINS_AI_PLATFORM = frozenset(
    {
        "com.intellij.ml.llm",
        "com.intellij.ml.llm.core",
        "com.intellij.mcpServer",
        "org.jetbrains.completion.full.line",
        "com.github.copilot",
    }
)
_URL_HOST = re.compile(r"^(?:https?://)?(?:[^@/]*@)?(?P<host>[^/:?#\s]+)", re.IGNORECASE)
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
        return _assess_ide_extension(matcher, hints)
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
    """Read what an extension asks for (hosts, a side panel) and what it calls itself."""
    ai_hosts: list[tuple[str, str, Match]] = []  # (hint key, host, catalogue hit)
    for key in ("host_permissions", "content_script_matches"):
        for pattern in _strings(hints.get(key)):
            host = pattern_host(pattern)
            hit = _ai_domain(matcher, host) if host is not None else None
            if host is not None and hit is not None:
                ai_hosts.append((key, host, hit))
    permissions = set(_strings(hints.get("permissions")))
    granted = [(host, hit) for key, host, hit in ai_hosts if key == "host_permissions"]
    if granted and "sidePanel" in permissions:
        host, hit = granted[0]
        return Verdict(f"extension-side-panel-ai-host:{host}", "medium", hit.service_id)
    if granted:
        host, hit = granted[0]
        return Verdict(f"extension-host-permission:{host}", "medium", hit.service_id)
    homepage = _homepage_verdict(matcher, _string(hints.get("homepage_url")))
    # Another signal that makes an ambiguous brand word ("Claude", "Gemini") count.
    corroborated = bool(ai_hosts) or homepage is not None or "sidePanel" in permissions
    description = ai_terms(_string(hints.get("description")))
    for key in ("name", "short_name"):
        terms = ai_terms(_string(hints.get(key)))
        token = terms.says_ai(corroborated=corroborated or bool(description.strong))
        if token is not None:
            return Verdict(f"extension-{key.replace('_', '-')}-token:{token}", "medium")
    if ai_hosts:
        _key, host, hit = ai_hosts[0]
        return Verdict(f"extension-content-script:{host}", "low", hit.service_id)
    if homepage is not None:
        return homepage
    token = _description_token(description)
    if token is not None:
        return Verdict(f"extension-description-token:{token}", "low")
    return None


def _homepage_verdict(matcher: Matcher, url: str | None) -> Verdict | None:
    """Judge the host of an extension's homepage the way a DNS name is judged."""
    if not url:
        return None
    found = _URL_HOST.match(url.strip())
    if found is None:
        return None
    judged = judge_name(matcher, found["host"])
    if judged is None:
        return None
    if judged.match is not None:
        service = matcher.catalogue.get(judged.match.service_id)
        if service is None or service.category not in _AI_CATEGORIES:
            return None
        return Verdict(f"extension-homepage:{judged.name}", "low", judged.match.service_id)
    return Verdict(f"extension-homepage:{judged.name}", "low")


def _description_token(terms: Terms) -> str | None:
    """Return the token that makes a description say AI: a brand, or "AI" said of a task.

    "AI" with no task next to it ("hides the AI box on search pages", a textbook on
    "Artificial Intelligence: Foundations of Computational Agents") says nothing about it.
    """
    named = [word for word in terms.strong if word not in ("ai", "artificial intelligence")]
    if named:
        return named[0]
    if terms.ai_task:
        return "ai"
    return dataclasses.replace(terms, strong=()).says_ai()


def _assess_ide_extension(matcher: Matcher, hints: Mapping[str, object]) -> Verdict | None:
    """Read what an IDE extension's manifest declares, then what it calls itself."""
    contributes = set(_strings(hints.get("contributes")))
    declared = sorted(contributes & IDE_AI_CONTRIBUTIONS)
    if declared:
        return Verdict(f"ide-contributes:{declared[0]}", "medium")
    for dependency in sorted(_strings(hints.get("plugin_dependencies"))):
        if dependency in JETBRAINS_AI_PLATFORM:
            return Verdict(f"ide-depends-on-ai-platform:{dependency}", "medium")
    for namespace in sorted(_strings(hints.get("extension_namespaces"))):
        if namespace in JETBRAINS_AI_PLATFORM:
            return Verdict(f"ide-extends-ai-platform:{namespace}", "medium")
    # An editor extension that bundles an assistant's own package integrates with it (the
    # C/C++ extension ships Copilot's language server): only an AI SDK says the extension is AI.
    verdict = _assess_dependencies(
        matcher, hints, (IndicatorKind.NPM,), skip=frozenset({Category.CODING_ASSISTANT})
    ) or (_assess_extension_dependencies(matcher, hints))
    if verdict is not None:
        return verdict
    # The "AI" and "Chat" categories, language-model tools and MCP server definitions are no
    # proof alone: the pull-request, Python and Jupyter extensions declare them to serve
    # Copilot. They make a name or a description that says AI count.
    categories = {category.lower() for category in _strings(hints.get("categories"))}
    tooling = sorted(contributes & IDE_AI_TOOLING)
    corroborated = bool(categories & {"ai", "chat"} or tooling)
    confidence = "medium" if corroborated else "low"
    name = _string(hints.get("name"))
    word = ai_terms(name).says_ai(corroborated=corroborated)
    if word is None and name is not None and _MCP.search(name):
        word = "mcp"  # the Model Context Protocol: only AI agents speak it
    if word is not None:
        return Verdict(f"ide-name-token:{word}", confidence)
    description = _string(hints.get("description"))
    terms = ai_terms(description)
    word = _description_token(terms) or terms.says_ai(corroborated=corroborated)
    if word is None and description is not None and _MCP.search(description):
        word = "mcp"
    if word is not None:
        return Verdict(f"ide-description-token:{word}", confidence)
    return None


def _assess_dependencies(
    matcher: Matcher,
    hints: Mapping[str, object],
    kinds: Iterable[IndicatorKind],
    skip: frozenset[Category] = frozenset(),
) -> Verdict | None:
    kinds = tuple(kinds)
    for dependency in sorted(_strings(hints.get("dependencies"))):
        for kind in kinds:
            hit = matcher.match_exact(kind, dependency)
            service = matcher.catalogue.get(hit.service_id) if hit is not None else None
            if service is not None and service.category in skip:
                continue
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


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        return []
    return [item for item in value if isinstance(item, str) and item]
