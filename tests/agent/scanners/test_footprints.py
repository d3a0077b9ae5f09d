"""AI tool footprints from the shipped catalogue: existence and modified time, never contents."""

from __future__ import annotations

import os
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.footprints import FootprintScanner
from signatures import Catalogue, IndicatorKind, Matcher
from tests.agent.scanners.helpers import context, make_user, run, write


def test_footprints_on_each_layout_become_findings(
    tmp_path: Path, catalogue: Catalogue, matcher: Matcher
) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    write(linux.home / ".claude/projects/-home-alice-repo/session.jsonl", '{"prompt": "secret"}')
    write(linux.home / ".codex/config.toml", "model = 'o3'\n")
    os.utime(linux.home / ".codex", (1764201600, 1764201600))
    write(linux.home / ".aider.conf.yml", "model: sonnet\n")
    (linux.home / ".config/goose").mkdir(parents=True)
    (linux.home / ".config/unrelated-tool").mkdir(parents=True)
    mac = make_user(tmp_path, "bob", "darwin")
    (mac.home / "Library/Application Support/com.openai.chat").mkdir(parents=True)
    (mac.home / "Library/Application Support/io.datasette.llm").mkdir(parents=True)
    win = make_user(tmp_path, "carol", "windows")
    (win.home / "AppData/Roaming/Claude").mkdir(parents=True)
    (win.home / ".copilot").mkdir(parents=True)
    scanner = FootprintScanner.for_catalogue(catalogue)
    ctx = context(tmp_path, linux, mac, win)

    observations, errors = run(scanner, ctx)
    assert errors == []
    assert all(o.indicator_kind is IndicatorKind.FOOTPRINT for o in observations)
    codex = next(o for o in observations if o.indicator == ".codex")
    assert codex.evidence == {
        "path": str(linux.home / ".codex"),
        "is_directory": True,
        "modified_at": "2025-11-27T00:00:00Z",
    }
    aider = next(o for o in observations if o.indicator == ".aider.conf.yml")
    assert aider.evidence["is_directory"] is False
    assert "secret" not in repr([o.evidence for o in observations])

    result = run_scan(ctx, (scanner,), matcher)
    assert result.errors == []
    assert {(f.user, f.service_id, f.indicator) for f in result.findings} == {
        ("alice", "anthropic-claude-code", ".claude"),
        ("alice", "openai-codex-cli", ".codex"),
        ("alice", "aider", ".aider.conf.yml"),
        ("alice", "goose", ".config/goose"),
        ("bob", "openai-chatgpt", "Library/Application Support/com.openai.chat"),
        ("bob", "llm-cli", "Library/Application Support/io.datasette.llm"),
        ("carol", "anthropic-claude", "AppData/Roaming/Claude"),
        ("carol", "github-copilot", ".copilot"),
    }
    assert {f.kind.value for f in result.findings} == {"app"}
    assert {f.confidence.value for f in result.findings} == {"medium"}
    assert all(f.evidence["matched"] == f"footprint:{f.indicator}" for f in result.findings)


def test_a_footprint_that_is_not_a_plain_entry_is_reported_not_followed(tmp_path: Path) -> None:
    user = make_user(tmp_path, "dave", "linux")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (user.home / ".gemini").symlink_to(target)  # reported as it is: a link, not its target
    blocked = user.home / ".config"
    blocked.mkdir()
    (blocked / "goose").mkdir()
    blocked.chmod(0o000)
    try:
        observations, errors = run(
            FootprintScanner([".gemini", ".config/goose"]), context(tmp_path, user)
        )
    finally:
        blocked.chmod(0o755)
    gemini = next(o for o in observations if o.indicator == ".gemini")
    assert gemini.evidence["is_directory"] is False
    if os.geteuid() != 0:  # root reads through permissions
        assert [error.path for error in errors] == [str(blocked / "goose")]
