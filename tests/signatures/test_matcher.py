"""Matcher behaviour: label boundaries, wildcard hosts, ambiguity, confidence, load order."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from signatures import Catalogue, Category, IndicatorKind, Matcher, Service


def service(service_id: str, **indicators: tuple[str, ...]) -> Service:
    return Service(
        id=service_id,
        name=service_id,
        vendor="v",
        category=Category.CHAT_ASSISTANT,
        indicators={IndicatorKind(kind): values for kind, values in indicators.items()},
        sources=("test",),
    )


@pytest.mark.parametrize(
    "name",
    [
        "evilchatgpt.com",
        "chatgpt.com.evil.example",
        "prefix-chatgpt.com",
        "chatgpt.co",
        "chatgptcom",
        "com",
        "",
        ".",
        "chatgpt",
        "xn--chatgpt.com",
    ],
)
def test_label_boundaries_hold(matcher: Matcher, name: str) -> None:
    hit = matcher.match_domain(name)
    assert hit is None or hit.service_id != "openai-chatgpt"


@pytest.mark.parametrize(
    ("name", "service_id"),
    [
        ("chatgpt.com", "openai-chatgpt"),
        ("CHATGPT.COM.", "openai-chatgpt"),
        ("a.b.c.chatgpt.com", "openai-chatgpt"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "aws-bedrock"),
        ("bedrock-agent-runtime.ap-southeast-2.amazonaws.com", "aws-bedrock"),
        ("generativelanguage.googleapis.com", "google-gemini-api"),
        ("europe-west4-aiplatform.googleapis.com", "google-vertex-ai"),
        ("myresource.openai.azure.com", "azure-openai"),
        ("gemini.google.com", "google-gemini"),
    ],
)
def test_precise_hits(matcher: Matcher, name: str, service_id: str) -> None:
    hit = matcher.match_domain(name)
    assert hit is not None and hit.service_id == service_id


@pytest.mark.parametrize(
    "name",
    [
        "s3.amazonaws.com",
        "www.googleapis.com",
        "api.github.com",
        "gemini.com",
        "www.gemini.com",
        "amazonaws.com",
        "bedrock-runtime.amazonaws.com",
        "evil.bedrock-runtime.us-east-1.amazonaws.com",
        "googleapis.com",
        "storage.googleapis.com",
        "-aiplatform.googleapis.com",
        "www.google.com",
        "github.com",
        "microsoft.com",
    ],
)
def test_traps_are_not_ai(matcher: Matcher, name: str) -> None:
    assert matcher.match_domain(name) is None


def test_most_specific_entry_wins() -> None:
    catalogue = Catalogue(
        "t",
        (
            service("broad", domain=("example.test",)),
            service("narrow", domain=("api.example.test",)),
            service("exact", host=("chat.example.test",)),
        ),
    )
    matcher = Matcher(catalogue)
    assert _id(matcher.match_domain("x.api.example.test")) == "narrow"
    assert _id(matcher.match_domain("www.example.test")) == "broad"
    assert _id(matcher.match_domain("chat.example.test")) == "exact"
    assert _id(matcher.match_domain("x.chat.example.test")) == "broad"


def test_ambiguous_indicators_are_attributed_to_nobody() -> None:
    catalogue = Catalogue(
        "t",
        (
            service(
                "one",
                domain=("shared.test",),
                env_var=("SHARED_KEY",),
                host=("h.other.test",),
                cmdline=("shared-marker",),
                port=("1337",),
            ),
            service(
                "two",
                domain=("shared.test", "api.own.test"),
                env_var=("SHARED_KEY",),
                host=("h.other.test",),
                cmdline=("shared-marker",),
                port=("1337",),
            ),
            service("parent", domain=("other.test",)),
        ),
    )
    matcher = Matcher(catalogue)
    assert matcher.match_domain("www.shared.test") is None
    assert matcher.match_exact(IndicatorKind.ENV_VAR, "SHARED_KEY") is None
    assert matcher.match_exact(IndicatorKind.PORT, "1337") is None
    # an ambiguous exact host is not handed to the broader domain either
    assert matcher.match_domain("h.other.test") is None
    assert matcher.match_process(name="node", cmdline=["node", "shared-marker"]) is None
    assert _id(matcher.match_domain("api.own.test")) == "two"


def test_shipped_ambiguous_port_names_nobody(matcher: Matcher) -> None:
    # Jan and Atomic Chat both listen on 1337.
    assert matcher.match_exact(IndicatorKind.PORT, "1337") is None


def test_results_do_not_depend_on_load_order(catalogue: Catalogue) -> None:
    probes = _probes(catalogue)
    expected = _results(Matcher(catalogue), probes)
    rng = random.Random(7)
    for _ in range(3):
        shuffled = list(catalogue.services)
        rng.shuffle(shuffled)
        assert _results(Matcher(Catalogue(catalogue.version, tuple(shuffled))), probes) == expected


def test_weak_kinds_have_low_confidence(matcher: Matcher) -> None:
    name_only = matcher.match_process(name="cursor")
    assert name_only is not None and name_only.confidence == "low"
    port = matcher.match_exact(IndicatorKind.PORT, "11434")
    assert port is not None and port.service_id == "ollama" and port.confidence == "low"
    corroborated = matcher.match_process(
        name="Cursor", exe="/Applications/Cursor.app/Contents/MacOS/Cursor"
    )
    assert corroborated is not None and corroborated.confidence == "high"


def test_process_cmdline_marker_beats_name(matcher: Matcher) -> None:
    hit = matcher.match_process(
        name="node",
        exe="/usr/bin/node",
        cmdline=["node", "/usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js"],
    )
    assert hit is not None
    assert (hit.service_id, hit.kind) == ("anthropic-claude-code", IndicatorKind.CMDLINE)
    assert matcher.match_process(name="node", cmdline=["node", "server.js"]) is None


@pytest.mark.parametrize(
    ("cmdline", "service_id"),
    [
        ("goose session --name demo", "goose"),
        ("/usr/bin/mongoose session", None),
        ("node /x/@modelcontextprotocol/server-filesystem /tmp", "mcp-sdk"),
        ("python -m vllm.entrypoints.openai.api_server", "vllm"),
        ("python -m myvllm.entrypoints.x", None),
    ],
)
def test_cmdline_markers_respect_word_boundaries(
    matcher: Matcher, cmdline: str, service_id: str | None
) -> None:
    parts = cmdline.split()
    assert _id(matcher.match_process(name=parts[0], cmdline=parts)) == service_id


def test_path_fragments_respect_word_boundaries(matcher: Matcher) -> None:
    claude = "/Users/ana/Library/Application Support/Claude/config.json"
    assert _id(matcher.match_path(IndicatorKind.INSTALL_PATH, claude)) == "anthropic-claude"
    other = "/Users/ana/Library/Application Support/Claudette/config.json"
    assert matcher.match_path(IndicatorKind.INSTALL_PATH, other) is None


def test_windows_paths_and_exe_suffix(matcher: Matcher) -> None:
    assert _id(matcher.match_process(name="ollama.exe")) == "ollama"
    hit = matcher.match_path(
        IndicatorKind.INSTALL_PATH, "C:\\Users\\ana\\AppData\\Local\\Programs\\Ollama"
    )
    assert _id(hit) == "ollama"


def test_package_names_are_normalised(matcher: Matcher) -> None:
    assert _id(matcher.match_exact(IndicatorKind.PYPI, "Huggingface_Hub")) == "huggingface"
    assert _id(matcher.match_exact(IndicatorKind.NPM, "@Anthropic-AI/SDK")) == "anthropic-api"
    assert (
        _id(matcher.match_exact(IndicatorKind.IDE_EXTENSION, "github.COPILOT")) == "github-copilot"
    )


def test_ip_ranges_match_narrowest_first() -> None:
    catalogue = Catalogue(
        "t",
        (
            service("wide", ip_range=("10.0.0.0/8",)),
            service("narrow", ip_range=("10.1.0.0/16",)),
        ),
    )
    matcher = Matcher(catalogue)
    assert _id(matcher.match_ip("10.1.2.3")) == "narrow"
    assert _id(matcher.match_ip("10.2.0.1")) == "wide"
    assert matcher.match_ip("192.0.2.1") is None
    assert matcher.match_ip("not-an-ip") is None


def _id(hit: object) -> str | None:
    return getattr(hit, "service_id", None)


def _probes(catalogue: Catalogue) -> list[tuple[IndicatorKind, str]]:
    probes: list[tuple[IndicatorKind, str]] = []
    for item in catalogue.services:
        for kind, values in item.indicators.items():
            for value in values:
                probes.append((kind, value.replace("*", "us-east-1")))
                if kind is IndicatorKind.DOMAIN:
                    probes.append((kind, "www." + value))
    return probes


def _results(matcher: Matcher, probes: list[tuple[IndicatorKind, str]]) -> Mapping[str, object]:
    out: dict[str, object] = {}
    for kind, value in probes:
        if kind is IndicatorKind.PROCESS:
            hit = matcher.match_process(name=value)
        else:
            hit = matcher.match_exact(kind, value)
        out[f"{kind.value}:{value}"] = (hit.service_id, hit.indicator) if hit else None
    return out
