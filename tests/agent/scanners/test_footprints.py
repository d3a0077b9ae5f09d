"""AI tool footprints: existence and modification time only, never contents."""

from __future__ import annotations

import os
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.footprints import FootprintScanner
from signatures import Matcher, load_catalogue
from tests.agent.scanners.helpers import context, make_user, run, write


def test_footprints_on_each_layout(tmp_path: Path) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    write(linux.home / ".claude/projects/-home-alice-repo/session.jsonl", '{"prompt": "secret"}')
    write(linux.home / ".codex/config.toml", "model = 'o3'\n")
    os.utime(linux.home / ".codex", (1764201600, 1764201600))
    mac = make_user(tmp_path, "bob", "darwin")
    (mac.home / "Library/Application Support/com.openai.chat").mkdir(parents=True)
    win = make_user(tmp_path, "carol", "windows")
    (win.home / "AppData/Roaming/Claude").mkdir(parents=True)
    observations, errors = run(FootprintScanner(), context(tmp_path, linux, mac, win))
    assert errors == []
    rows = {(o.user, o.evidence["tool"], Path(o.indicator).name) for o in observations}
    assert rows == {
        ("alice", "claude_code", ".claude"),
        ("alice", "codex_cli", ".codex"),
        ("bob", "chatgpt_desktop", "com.openai.chat"),
        ("carol", "claude_desktop", "Claude"),
    }
    codex = next(o for o in observations if o.evidence["tool"] == "codex_cli")
    assert codex.evidence["modified_at"] == "2025-11-27T00:00:00Z"
    assert "secret" not in repr([o.evidence for o in observations])

    folder = tmp_path / "catalogue"
    write(
        folder / "tools.yaml",
        (
            "services:\n  - id: test-claude-code\n    name: Claude Code\n    vendor: Tests\n"
            "    category: coding_assistant\n    indicators:\n      install_paths: [/.claude]\n"
            "    sources: [https://example.test]\n"
        ),
    )
    result = run_scan(
        context(tmp_path, linux, mac, win), (FootprintScanner(),), Matcher(load_catalogue(folder))
    )
    assert [(f.user, f.service_id, f.kind.value) for f in result.findings] == [
        ("alice", "test-claude-code", "app")
    ]
