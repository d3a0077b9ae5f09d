"""Heuristics flag likely AI outside the catalogue and stay quiet on non-AI look-alikes."""

from __future__ import annotations

import pytest

from signatures import IndicatorKind, Matcher, assess
from signatures.heuristics import pattern_host

ALL_URLS = ["<all_urls>", "*://*/*", "http://*/*", "https://*/*", "file:///*"]


@pytest.mark.parametrize(
    ("hints", "reason", "confidence"),
    [
        (
            {"host_permissions": ["https://api.openai.com/*"]},
            "extension-host-permission:api.openai.com",
            "medium",
        ),
        (
            {"host_permissions": ["<all_urls>", "https://*.anthropic.com/*"]},
            "extension-host-permission:anthropic.com",
            "medium",
        ),
        (
            {"content_script_matches": ["https://chatgpt.com/*", "https://claude.ai/*"]},
            "extension-content-script:chatgpt.com",
            "low",
        ),
        (
            {
                "host_permissions": ["https://example.org/*"],
                "content_script_matches": ["*://gemini.google.com/*"],
            },
            "extension-content-script:gemini.google.com",
            "low",
        ),
    ],
)
def test_extension_reaching_ai_hosts(
    matcher: Matcher, hints: dict[str, object], reason: str, confidence: str
) -> None:
    verdict = assess(
        matcher, IndicatorKind.BROWSER_EXTENSION, "abcdefghijklmnopabcdefghijklmnop", hints
    )
    assert verdict is not None
    assert (verdict.reason, verdict.confidence) == (reason, confidence)


@pytest.mark.parametrize(
    ("name", "hints"),
    [
        # password managers and ad blockers reach every site, not AI sites in particular
        ("1Password", {"host_permissions": ALL_URLS, "content_script_matches": ["<all_urls>"]}),
        ("Bitwarden", {"host_permissions": ["*://*/*"], "content_script_matches": ["file:///*"]}),
        (
            "uBlock Origin",
            {
                "host_permissions": ["<all_urls>"],
                "content_script_matches": ["http://*/*", "https://*/*"],
            },
        ),
        ("AdBlock", {"host_permissions": ["https://*.com/*", "https://*/*"]}),
        (
            "Google Docs Offline",
            {"host_permissions": ["https://docs.google.com/*", "https://drive.google.com/*"]},
        ),
        ("Crypto wallet", {"host_permissions": ["https://*.gemini.com/*"]}),
        ("nothing", {}),
        ("garbage", {"host_permissions": "https://api.openai.com/*"}),
    ],
)
def test_non_ai_extensions_are_quiet(matcher: Matcher, name: str, hints: dict[str, object]) -> None:
    assert assess(matcher, IndicatorKind.BROWSER_EXTENSION, name, hints) is None


def test_package_depending_on_ai_sdk(matcher: Matcher) -> None:
    verdict = assess(
        matcher,
        IndicatorKind.PYPI,
        "acme-summariser",
        {"dependencies": ["requests", "openai", "pydantic"]},
    )
    assert verdict is not None
    assert verdict.reason == "depends-on-ai-sdk:pypi:openai"
    assert (verdict.confidence, verdict.related_service) == ("medium", "openai-api")
    npm = assess(
        matcher, IndicatorKind.NPM, "acme-bot", {"dependencies": ["express", "@anthropic-ai/sdk"]}
    )
    assert npm is not None and npm.related_service == "anthropic-api"


@pytest.mark.parametrize(
    ("kind", "dependencies"),
    [
        (IndicatorKind.PYPI, ["requests", "numpy", "django"]),
        (IndicatorKind.NPM, ["express", "react", "lodash"]),
        (IndicatorKind.PYPI, []),
    ],
)
def test_ordinary_packages_are_quiet(
    matcher: Matcher, kind: IndicatorKind, dependencies: list[str]
) -> None:
    assert assess(matcher, kind, "some-package", {"dependencies": dependencies}) is None


def test_ide_extension_depending_on_ai(matcher: Matcher) -> None:
    verdict = assess(
        matcher,
        IndicatorKind.IDE_EXTENSION,
        "acme.copilot-helper",
        {"extension_dependencies": ["GitHub.copilot-chat"]},
    )
    assert verdict is not None and verdict.related_service == "github-copilot"
    sdk = assess(
        matcher,
        IndicatorKind.IDE_EXTENSION,
        "acme.writer",
        {"dependencies": ["@vscode/extension-telemetry", "openai"]},
    )
    assert sdk is not None and sdk.reason == "depends-on-ai-sdk:npm:openai"


@pytest.mark.parametrize(
    ("extension_id", "hints"),
    [
        (
            "ms-toolsai.jupyter",
            {
                "dependencies": ["@jupyterlab/services", "@vscode/extension-telemetry"],
                "extension_dependencies": ["ms-python.python"],
            },
        ),
        (
            "GitHub.vscode-pull-request-github",
            {
                "dependencies": ["@octokit/rest", "@octokit/graphql", "vscode-tas-client"],
                "extension_dependencies": ["vscode.git"],
            },
        ),
        ("ms-python.python", {"extension_dependencies": ["ms-python.debugpy"]}),
    ],
)
def test_non_ai_ide_extensions_are_quiet(
    matcher: Matcher, extension_id: str, hints: dict[str, object]
) -> None:
    assert matcher.match_exact(IndicatorKind.IDE_EXTENSION, extension_id) is None
    assert assess(matcher, IndicatorKind.IDE_EXTENSION, extension_id, hints) is None


def test_process_connecting_to_ai_api(matcher: Matcher) -> None:
    verdict = assess(
        matcher,
        IndicatorKind.PROCESS,
        "acme-agent",
        {"remote_hosts": ["10.0.0.5", "api.anthropic.com"]},
    )
    assert verdict is not None
    assert verdict.reason == "process-connects-to-ai-api:api.anthropic.com"
    assert verdict.confidence == "medium"


def test_process_connecting_to_a_published_ai_range(matcher: Matcher) -> None:
    verdict = assess(
        matcher, IndicatorKind.PROCESS, "acme-agent", {"remote_hosts": ["160.79.104.20"]}
    )
    assert verdict is not None
    assert verdict.reason == "process-connects-to-ai-api:160.79.104.0/23"
    assert verdict.related_service == "anthropic-api"


@pytest.mark.parametrize(
    ("name", "remote_hosts"),
    [
        ("chrome", ["chatgpt.com", "api.openai.com"]),  # a browser: the web finding covers it
        ("firefox.exe", ["api.openai.com"]),
        ("Google Chrome Helper", ["api.openai.com"]),
        ("backup-agent", ["s3.amazonaws.com", "www.googleapis.com"]),
        ("slack", ["chatgpt.com"]),  # a chat site, not an API
        ("git", ["api.github.com"]),
    ],
)
def test_processes_that_are_not_ai_clients(
    matcher: Matcher, name: str, remote_hosts: list[str]
) -> None:
    assert assess(matcher, IndicatorKind.PROCESS, name, {"remote_hosts": remote_hosts}) is None


@pytest.mark.parametrize(
    "name",
    [
        "llm-gateway.corp.example",
        "gpt-proxy.example.net",
        "api.somestartup.ai",
        "inference.newvendor.ai",
        "openai-relay.example.com",
        "genai.internal.example",
    ],
)
def test_dns_names_that_look_like_ai_apis(matcher: Matcher, name: str) -> None:
    verdict = assess(matcher, IndicatorKind.DOMAIN, name, {})
    assert verdict is not None and verdict.confidence == "low"


@pytest.mark.parametrize(
    "name",
    [
        "api.github.com",
        "www.googleapis.com",
        "s3.amazonaws.com",
        "gemini.com",
        "mail.google.com",
        "gptzero.me",
        "ai",
        "www.maison.fr",
        "api.airbnb.com",
        "cdn.ai",
        "www.example.ai",
        "chatops.example.com",
        "llama.example.com",
    ],
)
def test_dns_names_that_are_not(matcher: Matcher, name: str) -> None:
    assert assess(matcher, IndicatorKind.DOMAIN, name, {}) is None


@pytest.mark.parametrize(
    ("pattern", "host"),
    [
        ("https://api.openai.com/*", "api.openai.com"),
        ("*://*.claude.ai/*", "claude.ai"),
        ("https://chatgpt.com:443/c/*", "chatgpt.com"),
        ("<all_urls>", None),
        ("*://*/*", None),
        ("https://*.com/*", None),
        ("https://*/*", None),
        ("file:///home/*", None),
        ("not a pattern", None),
    ],
)
def test_pattern_host(pattern: str, host: str | None) -> None:
    assert pattern_host(pattern) == host


def test_unsupported_kinds_give_no_verdict(matcher: Matcher) -> None:
    assert assess(matcher, IndicatorKind.ENV_VAR, "SOME_KEY", {}) is None
