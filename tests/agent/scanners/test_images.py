"""Whole-image scans (--root): users from the image's own database, every file scanner."""

from __future__ import annotations

import plistlib
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import AgentSettings
from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.registry import build_scanners
from agent.users import local_users, platform_of_root
from signatures import Catalogue, Matcher
from tests.agent.scanners.helpers import write


def populate(home: Path, layout: str) -> None:
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


def linux_image(root: Path) -> None:
    write(
        root / "etc/passwd",
        "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:"
        "/bin/bash\nsvc:x:999:999::/srv/svc:/usr/sbin/nologin\n",
    )
    populate(root / "home/alice", "linux")
    populate(root / "srv/svc", "linux")  # a service account: never scanned


def darwin_image(root: Path) -> None:
    (root / "System/Library").mkdir(parents=True)
    write(
        root / "var/db/dslocal/nodes/Default/users/alice.plist",
        plistlib.dumps(
            {"name": ["alice"], "home": ["/Users/alice"], "uid": ["501"], "shell": ["/bin/zsh"]}
        ),
    )
    populate(root / "Users/alice", "darwin")
    write(
        root / "Applications/Claude.app/Contents/Info.plist",
        plistlib.dumps(
            {"CFBundleIdentifier": "com.anthropic.claudefordesktop", "CFBundleName": "Claude"}
        ),
    )


def windows_image(root: Path) -> None:
    (root / "Windows/System32").mkdir(parents=True)
    populate(root / "Users/alice", "windows")
    (root / "Users/Public").mkdir(parents=True)


@pytest.mark.parametrize(
    ("layout", "build"),
    [("linux", linux_image), ("darwin", darwin_image), ("windows", windows_image)],
)
def test_image_scan_finds_every_footprint(
    tmp_path: Path,
    layout: str,
    build: Callable[[Path], None],
    catalogue: Catalogue,
    matcher: Matcher,
) -> None:
    build(tmp_path)
    assert platform_of_root(tmp_path) == layout
    users = local_users(tmp_path)
    assert [user.name for user in users if user.name != "root"] == ["alice"]
    ctx = ScanContext(root=tmp_path, users=users, platform=layout)
    scanners = build_scanners(AgentSettings(), catalogue)
    file_scanners = tuple(scanner for scanner in scanners if not scanner.live)
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
