"""Names of AI keys set in start-up and .env files; never their values."""

from __future__ import annotations

import json
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.environment import EnvironmentScanner, assigned_names
from signatures import Matcher
from tests.agent.scanners.helpers import context, make_user, run, write

KEY = "sk-proj-TOPSECRET1234567890"


def test_assigned_names_across_shells() -> None:
    text = "\n".join(
        [
            "export OPENAI_API_KEY=" + KEY,
            "ANTHROPIC_API_KEY='x'",
            "set -gx GROQ_API_KEY abc",
            "setenv AZURE_OPENAI_ENDPOINT https://x",
            "$env:GEMINI_API_KEY = 'k'",
            "export PATH=$PATH:/opt/bin",
            "# export COMMENTED_API_KEY=1",
            "alias ll='ls -l'",
            "echo hello",
        ]
    )
    assert assigned_names(text, key_like_only=True) == [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GROQ_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "GEMINI_API_KEY",
    ]
    assert "PATH" in assigned_names(text, key_like_only=False)


def test_startup_and_dotenv_files(tmp_path: Path, matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    write(linux.home / ".zshrc", f"export OPENAI_API_KEY={KEY}\nexport EDITOR=vim\n")
    write(linux.home / "code/bot/.env", f"ANTHROPIC_API_KEY={KEY}\nDEBUG=1\n")
    write(linux.home / "code/node_modules/.env", f"IGNORED_API_KEY={KEY}\n")
    win = make_user(tmp_path, "carol", "windows")
    write(
        win.home / "Documents/PowerShell/Microsoft.PowerShell_profile.ps1",
        f"$env:OPENAI_API_KEY = '{KEY}'\n",
    )
    observations, errors = run(EnvironmentScanner(), context(tmp_path, linux, win))
    assert errors == []
    rows = {(o.user, o.indicator, o.evidence["source"]) for o in observations}
    assert rows == {
        ("alice", "OPENAI_API_KEY", "startup_file"),
        ("alice", "ANTHROPIC_API_KEY", "dotenv"),
        ("alice", "DEBUG", "dotenv"),
        ("carol", "OPENAI_API_KEY", "startup_file"),
    }
    assert KEY not in json.dumps([dict(o.evidence) for o in observations])
    assert KEY not in json.dumps([dict(o.hints) for o in observations])
    result = run_scan(context(tmp_path, linux, win), (EnvironmentScanner(),), matcher)
    assert {(f.user, f.service_id, f.confidence.value) for f in result.findings} == {
        ("alice", "openai-api", "low"),
        ("alice", "anthropic-api", "low"),
        ("carol", "openai-api", "low"),
    }
