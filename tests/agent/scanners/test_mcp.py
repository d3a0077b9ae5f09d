"""MCP server configurations: every client's file, and no secret value in any observation."""

from __future__ import annotations

import json
from pathlib import Path

from agent.runner import run_scan
from agent.scanners.mcp import McpServerScanner, launched_package
from signatures import IndicatorKind, Matcher
from tests.agent.scanners.helpers import context, make_user, run, write

SECRETS = (
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "sk-proj-SECRETSECRETSECRET123456",
    "Bearer abc.def.ghi",
    "hunter2-password",
    "xoxb-123456789012-abcdefghijkl",
    "tok_in_query_9f8e7d",
)


def _servers() -> dict[str, object]:
    return {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github@1.2.0"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRETS[0]},
        },
        "remote": {
            "type": "http",
            "url": f"https://user:{SECRETS[3]}@mcp.example.test:8443/v1?key={SECRETS[5]}",
            "headers": {"Authorization": SECRETS[2]},
        },
        "local": {
            "command": "/opt/tools/my-server",
            "args": ["--api-key", SECRETS[1], f"--slack={SECRETS[4]}"],
        },
        "fetch": {"command": "uvx", "args": ["mcp-server-fetch==0.6"], "disabled": True},
    }


def test_every_client_config_is_read_without_secrets(tmp_path: Path, test_matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    write(linux.home / ".config/Claude/claude_desktop_config.json", {"mcpServers": _servers()})
    write(
        linux.home / ".claude.json",
        {
            "mcpServers": {"github": _servers()["github"]},
            "projects": {"/home/alice/repo": {"mcpServers": {"local": _servers()["local"]}}},
        },
    )
    write(linux.home / ".cursor/mcp.json", {"mcpServers": {"remote": _servers()["remote"]}})
    write(
        linux.home / ".codeium/windsurf/mcp_config.json",
        {
            "mcpServers": {
                "docker": {
                    "command": "docker",
                    "args": [
                        "run",
                        "-i",
                        "--rm",
                        "-e",
                        f"TOKEN={SECRETS[0]}",
                        "ghcr.io/acme/mcp:1",
                    ],
                }
            }
        },
    )
    write(
        linux.home / ".config/Code/User/mcp.json",
        '// VS Code allows comments\n{"servers": {"gh": {"command": "npx", "args": '
        '["@modelcontextprotocol/server-github"], "env": {"T": "' + SECRETS[0] + '"},},},}',
    )
    write(
        linux.home / ".config/Code/User/profiles/4a5b/settings.json",
        '{"mcp": {"servers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}}',
    )
    write(
        linux.home / ".codex/config.toml",
        (
            '[mcp_servers.docs]\ncommand = "npx"\nargs = ["-y", "@upstash/context7-mcp"]\n'
            f'env = {{ "API_KEY" = "{SECRETS[1]}" }}\n'
        ),
    )
    write(
        linux.home / ".config/zed/settings.json",
        json.dumps(
            {
                "context_servers": {
                    "zed-srv": {
                        "command": {
                            "path": "/usr/bin/node",
                            "args": ["server.js"],
                            "env": {"KEY": SECRETS[1]},
                        }
                    }
                }
            }
        ),
    )
    mac = make_user(tmp_path, "bob", "darwin")
    write(
        mac.home / "Library/Application Support/Claude/claude_desktop_config.json",
        {"mcpServers": {"github": _servers()["github"]}},
    )
    win = make_user(tmp_path, "carol", "windows")
    write(
        win.home / "AppData/Roaming/Code/User/globalStorage/saoudrizwan.claude-dev/settings/"
        "cline_mcp_settings.json",
        {
            "mcpServers": {
                "github": {
                    "command": "npx.cmd",
                    "args": ["-y", "@modelcontextprotocol/server-github"],
                }
            }
        },
    )

    observations, errors = run(McpServerScanner(), context(tmp_path, linux, mac, win))
    assert errors == []
    rows = {
        (o.user, o.evidence["client"], o.evidence["server"], o.indicator_kind.value, o.indicator)
        for o in observations
    }
    assert rows == {
        ("alice", "claude_desktop", "github", "npm", "@modelcontextprotocol/server-github"),
        ("alice", "claude_desktop", "remote", "host", "mcp.example.test"),
        ("alice", "claude_desktop", "local", "process", "my-server"),
        ("alice", "claude_desktop", "fetch", "pypi", "mcp-server-fetch"),
        ("alice", "claude_code", "github", "npm", "@modelcontextprotocol/server-github"),
        ("alice", "claude_code", "local", "process", "my-server"),
        ("alice", "cursor", "remote", "host", "mcp.example.test"),
        ("alice", "windsurf", "docker", "install_path", "image:ghcr.io/acme/mcp:1"),
        ("alice", "vscode", "gh", "npm", "@modelcontextprotocol/server-github"),
        ("alice", "vscode", "fetch", "pypi", "mcp-server-fetch"),
        ("alice", "codex_cli", "docs", "npm", "@upstash/context7-mcp"),
        ("alice", "zed", "zed-srv", "process", "node"),
        ("bob", "claude_desktop", "github", "npm", "@modelcontextprotocol/server-github"),
        ("carol", "cline", "github", "npm", "@modelcontextprotocol/server-github"),
    }
    everything = json.dumps([dict(o.evidence) for o in observations])
    for secret in SECRETS:
        assert secret not in everything
    assert "hunter2" not in everything
    remote = next(o for o in observations if o.evidence["server"] == "remote")
    assert remote.evidence["url"] == "https://mcp.example.test:8443"
    assert remote.evidence["header_keys"] == ["Authorization"]
    github = next(
        o
        for o in observations
        if o.evidence["client"] == "claude_desktop" and o.evidence["server"] == "github"
    )
    assert github.evidence["env_keys"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
    assert github.evidence["command"] == "npx"
    local = next(
        o
        for o in observations
        if o.evidence["client"] == "claude_code" and o.evidence["server"] == "local"
    )
    assert local.evidence["project"] == "/home/alice/repo"
    assert local.evidence["args"] == ["--api-key", "<redacted>", "--slack=<redacted>"]
    fetch = next(
        o
        for o in observations
        if o.evidence["server"] == "fetch" and o.evidence["client"] == "claude_desktop"
    )
    assert fetch.evidence["enabled"] is False

    result = run_scan(context(tmp_path, linux, mac, win), (McpServerScanner(),), test_matcher)
    assert {f.service_id for f in result.findings} == {"test-mcp"}
    assert {f.kind.value for f in result.findings} == {"mcp_server"}
    for secret in SECRETS:
        assert secret not in json.dumps([f.to_dict() for f in result.findings])


def test_broken_configs_are_reported(tmp_path: Path) -> None:
    user = make_user(tmp_path, "alice", "linux")
    write(user.home / ".cursor/mcp.json", '{"mcpServers": ')
    write(user.home / ".codex/config.toml", "[mcp_servers.x\ncommand=")
    write(user.home / ".gemini/settings.json", {"mcpServers": ["not", "a", "mapping"]})
    observations, errors = run(McpServerScanner(), context(tmp_path, user))
    assert observations == []
    assert sorted(Path(e.path or "").name for e in errors) == ["config.toml", "mcp.json"]


def test_launched_package() -> None:
    assert launched_package("npx", ["-y", "@scope/pkg@latest", "--flag"]) == (
        IndicatorKind.NPM,
        "@scope/pkg",
    )
    assert launched_package("C:\\nodejs\\npx.cmd", ["pkg@1.0"]) == (IndicatorKind.NPM, "pkg")
    assert launched_package("pnpm", ["dlx", "some-mcp"]) == (IndicatorKind.NPM, "some-mcp")
    assert launched_package("uvx", ["--from", "mcp-x[cli]==1", "mcp-x"]) == (
        IndicatorKind.PYPI,
        "mcp-x",
    )
    assert launched_package("uv", ["tool", "run", "mcp-y"]) == (IndicatorKind.PYPI, "mcp-y")
    assert launched_package("node", ["server.js"]) is None
