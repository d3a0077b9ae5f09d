"""Whole-image scans (--root): users from the image's own database, every file scanner."""

from __future__ import annotations

import plistlib
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.registry import DEFAULT_SCANNERS
from agent.users import local_users, platform_of_root
from signatures import Matcher
from tests.agent.scanners.helpers import write


def _populate(home: Path, layout: str) -> None:
    """Put one AI footprint per scanner into a home laid out for ``layout``."""
    roaming = {
        "linux": ".config",
        "darwin": "Library/Application Support",
        "windows": "AppData/Roaming",
    }[layout]
    write(
        home / ".vscode/extensions/extensions.json",
        [
            {
                "identifier": {"id": "GitHub.copilot"},
                "version": "1.0.0",
                "relativeLocation": "github.copilot-1.0.0",
            }
        ],
    )
    site = {
        "linux": ".local/lib/python3.12/site-packages",
        "darwin": "Library/Python/3.12/lib/python/site-packages",
        "windows": "AppData/Roaming/Python/Python312/site-packages",
    }[layout]
    write(home / site / "openai-1.0.0.dist-info/METADATA", "Name: openai\nVersion: 1.0.0\n\n")
    write(
        home / f"{roaming}/Claude/claude_desktop_config.json",
        {
            "mcpServers": {
                "code": {
                    "command": "npx",
                    "args": ["-y", "@anthropic-ai/claude-code", "mcp", "serve"],
                }
            }
        },
    )
    write(home / "work/app/.env", "ANTHROPIC_API_KEY=sk-ant-xxxxxxxxxxxxxxxx\n")
    model = home / ".lmstudio/models/q/model.gguf"
    model.parent.mkdir(parents=True)
    with open(model, "wb") as handle:
        handle.truncate(2 << 20)


def _linux(root: Path) -> None:
    write(
        root / "etc/passwd",
        "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:"
        "/bin/bash\nsvc:x:999:999::/srv/svc:/usr/sbin/nologin\n",
    )
    _populate(root / "home/alice", "linux")
    _populate(root / "srv/svc", "linux")  # a service account: never scanned


def _darwin(root: Path) -> None:
    (root / "System/Library").mkdir(parents=True)
    write(
        root / "var/db/dslocal/nodes/Default/users/alice.plist",
        plistlib.dumps(
            {"name": ["alice"], "home": ["/Users/alice"], "uid": ["501"], "shell": ["/bin/zsh"]}
        ),
    )
    _populate(root / "Users/alice", "darwin")
    write(
        root / "Applications/Claude.app/Contents/Info.plist",
        plistlib.dumps(
            {"CFBundleIdentifier": "com.anthropic.claudefordesktop", "CFBundleName": "Claude"}
        ),
    )


def _windows(root: Path) -> None:
    (root / "Windows/System32").mkdir(parents=True)
    _populate(root / "Users/alice", "windows")
    (root / "Users/Public").mkdir(parents=True)


@pytest.mark.parametrize(
    ("layout", "build"), [("linux", _linux), ("darwin", _darwin), ("windows", _windows)]
)
def test_image_scan_finds_every_footprint(
    tmp_path: Path, layout: str, build: Callable[[Path], None], matcher: Matcher
) -> None:
    build(tmp_path)
    assert platform_of_root(tmp_path) == layout
    users = local_users(tmp_path)
    assert [user.name for user in users if user.name != "root"] == ["alice"]
    ctx = ScanContext(root=tmp_path, users=users, platform=layout)
    file_scanners = tuple(scanner for scanner in DEFAULT_SCANNERS if not scanner.live)
    result = run_scan(ctx, file_scanners, matcher)
    assert result.errors == []
    found = {(f.kind.value, f.service_id, f.user) for f in result.findings}
    expected = {
        ("ide_extension", "github-copilot", "alice"),
        ("package", "openai-api", "alice"),
        ("mcp_server", "anthropic-claude-code", "alice"),
        ("env_var", "anthropic-api", "alice"),
    }
    if layout == "darwin":
        expected.add(("app", "anthropic-claude", None))
    # The shipped catalogue grows; these footprints must be among what it finds.
    assert expected <= found
