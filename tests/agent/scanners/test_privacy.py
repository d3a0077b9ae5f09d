"""Pseudonyms and redaction: what leaves the host names no one and carries no secret."""

from __future__ import annotations

import pytest

from agent.privacy import (
    looks_secret,
    pseudonymise,
    pseudonymise_evidence,
    redact_args,
    redact_url,
)


def test_pseudonymise_is_keyed_stable_and_case_folded() -> None:
    first = pseudonymise("Alice", b"key-one")
    assert first == pseudonymise("alice", "key-one")
    assert first != pseudonymise("alice", "key-two")
    assert first != pseudonymise("bob", "key-one")
    assert first.startswith("user-") and "alice" not in first
    with pytest.raises(ValueError):
        pseudonymise("alice", b"")


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-abcdefgh12345678",
        "sk-ant-api03-xyzXYZ12345678",
        "ghp_0123456789abcdefghijKLMN",
        "xoxb-1234-5678-abcdefgh",
        "AKIAIOSFODNN7EXAMPLE",
        "hf_abcdefghijklmnopqrstu",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
        "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
    ],
)
def test_secret_values_are_recognised(value: str) -> None:
    assert looks_secret(value)


@pytest.mark.parametrize(
    "value",
    [
        "/usr/local/lib/node_modules/@openai/codex/bin/codex.js",
        "--port",
        "11434",
        "serve",
        "llama3.2:latest",
    ],
)
def test_ordinary_values_are_kept(value: str) -> None:
    assert not looks_secret(value)
    assert redact_args([value]) == [value]


def test_redact_args_keeps_the_shape_of_the_command() -> None:
    args = [
        "@anthropic-ai/claude-code",
        "--api-key",
        "plainvalue",
        "--token=abc",
        "-p",
        "write a poem about our Q3 numbers",
        "OPENAI_API_KEY=whatever",
        "--model=gpt-4o",
        "https://user:pw@api.example.test/v1?key=k",
        "sk-live-123456789",
    ]
    assert redact_args(args) == [
        "@anthropic-ai/claude-code",
        "--api-key",
        "<redacted>",
        "--token=<redacted>",
        "-p",
        "<text>",
        "OPENAI_API_KEY=<redacted>",
        "--model=gpt-4o",
        "https://api.example.test",
        "<redacted>",
    ]
    assert redact_args(["x"] * 40)[-1] == "<8 more>"
    assert redact_args(
        ["mcp-remote", "-H", "X-Team:alpha", "--header", "Authorization:abc", "X-Auth:Bearer_tok"]
    ) == ["mcp-remote", "-H", "<redacted>", "--header", "<redacted>", "<redacted>"]


def test_redact_url() -> None:
    assert redact_url("https://u:p@mcp.example.test:8443/path?token=t#f") == (
        "https://mcp.example.test:8443"
    )
    assert redact_url("not a url") == "<redacted>"


def test_pseudonymise_evidence_scrubs_path_segments_only() -> None:
    evidence = {
        "path": "/home/alice/.config/google-chrome",
        "profile": "alice's profile",
        "win": "C:\\Users\\alice\\AppData",
        "list": ["/Users/alice", "/srv/alicex"],
        "pid": 4,
    }
    assert pseudonymise_evidence(evidence, "alice", "user-1") == {
        "path": "/home/user-1/.config/google-chrome",
        "profile": "alice's profile",
        "win": "C:\\Users\\user-1\\AppData",
        "list": ["/Users/user-1", "/srv/alicex"],
        "pid": 4,
    }
