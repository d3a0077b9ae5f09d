"""MCP server configurations of AI clients: server names and commands, never secret values.

Reads the per-user configuration of Claude Desktop, Claude Code, Cursor, VS Code (and its
profiles, Cline, Roo Code), Windsurf, Gemini CLI, Codex CLI, Zed, LM Studio, Amazon Q and Kiro.
Environment values, header values, tokens in arguments and URL paths or queries are removed
here, in the scanner, before an observation exists: only names, commands, packages and hosts
remain.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from agent.evidence import EvidenceField
from agent.privacy import names_only, redact_args, redact_url, url_host
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_SMALL_BYTES,
    Unreadable,
    exists,
    layouts,
    read_json_object,
    read_text,
    usable_home,
)
from signatures import EvidenceValue, FindingKind, IndicatorKind


@dataclass(frozen=True, slots=True)
class McpConfig:
    """One client's configuration file and the key its servers sit under."""

    client: str
    layout: str  # "any" or an OS layout
    rel: str  # relative to the home; may hold one "*" for VS Code profiles
    key: str  # "mcpServers", "servers", "mcp.servers", "context_servers", "mcp_servers"
    fmt: str = "json"  # "json", "jsonc" or "toml"


# The catalogue service of each AI client whose configuration is read (a test checks each is
# shipped). VS Code's own MCP configuration is read by Copilot's agent mode.
CLIENT_SERVICES: Mapping[str, str] = {
    "claude_desktop": "anthropic-claude",
    "claude_code": "anthropic-claude-code",
    "cursor": "cursor",
    "windsurf": "windsurf",
    "gemini_cli": "google-gemini-cli",
    "codex_cli": "openai-codex-cli",
    "zed": "zed",
    "lm_studio": "lm-studio",
    "amazon_q": "amazon-q-developer",
    "kiro": "kiro",
    "vscode": "github-copilot",
    "vscode_insiders": "github-copilot",
    "vscodium": "github-copilot",
    "cline": "cline",
    "roo_code": "roo-code",
}


_MAC = "Library/Application Support"
_VSCODE_PRODUCTS = (
    ("vscode", "Code"),
    ("vscode_insiders", "Code - Insiders"),
    ("vscodium", "VSCodium"),
)


def _configs() -> tuple[McpConfig, ...]:
    found = [
        McpConfig(
            "claude_desktop", "linux", ".config/Claude/claude_desktop_config.json", "mcpServers"
        ),
        McpConfig(
            "claude_desktop", "darwin", f"{_MAC}/Claude/claude_desktop_config.json", "mcpServers"
        ),
        McpConfig(
            "claude_desktop",
            "windows",
            "AppData/Roaming/Claude/claude_desktop_config.json",
            "mcpServers",
        ),
        McpConfig("claude_code", "any", ".claude.json", "mcpServers"),
        McpConfig("claude_code", "any", ".mcp.json", "mcpServers"),
        McpConfig("cursor", "any", ".cursor/mcp.json", "mcpServers"),
        McpConfig("windsurf", "any", ".codeium/windsurf/mcp_config.json", "mcpServers"),
        McpConfig("gemini_cli", "any", ".gemini/settings.json", "mcpServers"),
        McpConfig("codex_cli", "any", ".codex/config.toml", "mcp_servers", "toml"),
        McpConfig("zed", "linux", ".config/zed/settings.json", "context_servers", "jsonc"),
        McpConfig("zed", "darwin", ".config/zed/settings.json", "context_servers", "jsonc"),
        McpConfig(
            "zed", "windows", "AppData/Roaming/Zed/settings.json", "context_servers", "jsonc"
        ),
        McpConfig("lm_studio", "any", ".lmstudio/mcp.json", "mcpServers"),
        McpConfig("amazon_q", "any", ".aws/amazonq/mcp.json", "mcpServers"),
        McpConfig("kiro", "any", ".kiro/settings/mcp.json", "mcpServers"),
    ]
    for client, product in _VSCODE_PRODUCTS:
        for layout, base in (
            ("linux", f".config/{product}/User"),
            ("darwin", f"{_MAC}/{product}/User"),
            ("windows", f"AppData/Roaming/{product}/User"),
        ):
            for user_dir in (base, f"{base}/profiles/*"):
                found.append(McpConfig(client, layout, f"{user_dir}/mcp.json", "servers", "jsonc"))
                found.append(
                    McpConfig(client, layout, f"{user_dir}/settings.json", "mcp.servers", "jsonc")
                )
            storage = f"{base}/globalStorage"
            found.append(
                McpConfig(
                    "cline",
                    layout,
                    f"{storage}/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                    "mcpServers",
                )
            )
            found.append(
                McpConfig(
                    "roo_code",
                    layout,
                    f"{storage}/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                    "mcpServers",
                )
            )
    return tuple(found)


CONFIGS: tuple[McpConfig, ...] = _configs()

_NODE_RUNNERS = {"npx", "bunx", "pnpx"}
_PY_RUNNERS = {"uvx", "pipx"}
_DOCKER_VALUE_FLAGS = {
    "-e",
    "--env",
    "-v",
    "--volume",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--mount",
    "--env-file",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--entrypoint",
    "--platform",
    "-l",
    "--label",
}


def _basename(command: str) -> str:
    path: PurePath = PureWindowsPath(command) if "\\" in command else PurePosixPath(command)
    name = path.name.lower()
    for suffix in (".cmd", ".exe", ".bat"):
        name = name.removesuffix(suffix)
    return name


def _strip_npm_version(spec: str) -> str:
    if spec.startswith("@"):
        scope, _, rest = spec.partition("/")
        return f"{scope}/{rest.split('@', 1)[0]}"
    return spec.split("@", 1)[0]


def launched_package(command: str, args: list[str]) -> tuple[IndicatorKind, str] | None:
    """Return the (npm, pypi or image) package a runner command starts, if any."""
    runner = _basename(command)
    rest = list(args)
    if runner in ("pnpm", "yarn", "bun") and rest[:1] in (["dlx"], ["x"]):
        runner, rest = "npx", rest[1:]
    if runner in ("pipx", "uv") and rest[:1] in (["run"], ["tool"]):
        rest = rest[1:] if rest[:1] == ["run"] else rest[2:]
        runner = "uvx"
    if runner in _NODE_RUNNERS or runner in _PY_RUNNERS:
        skip_next = False
        for index, arg in enumerate(rest):
            if skip_next:
                skip_next = False
                continue
            if arg in ("--from", "--package", "-p") and index + 1 < len(rest):
                value = rest[index + 1]
                return _package_kind(runner), _strip_package(runner, value)
            if arg.startswith("--package="):
                return _package_kind(runner), _strip_package(runner, arg.split("=", 1)[1])
            if arg.startswith("-"):
                skip_next = arg in ("--python", "--with", "--index-url", "-c", "--call")
                continue
            return _package_kind(runner), _strip_package(runner, arg)
        return None
    if runner in ("docker", "podman") and "run" in rest:
        after = rest[rest.index("run") + 1 :]
        skip_next = False
        for arg in after:
            if skip_next:
                skip_next = False
                continue
            if arg.startswith("-"):
                skip_next = arg in _DOCKER_VALUE_FLAGS
                continue
            return IndicatorKind.INSTALL_PATH, f"image:{arg.split('@', 1)[0]}"
    return None


def _package_kind(runner: str) -> IndicatorKind:
    return IndicatorKind.NPM if runner in _NODE_RUNNERS else IndicatorKind.PYPI


def _strip_package(runner: str, spec: str) -> str:
    if runner in _NODE_RUNNERS:
        return _strip_npm_version(spec)
    for separator in ("==", ">=", "<=", "~=", "@", "[", " "):
        spec = spec.split(separator, 1)[0]
    return spec


class McpServerScanner:
    """Yield one observation per MCP server configured in an AI client, secrets removed."""

    name = "mcp_servers"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("client", "text", "The AI client whose configuration names the server."),
        EvidenceField("config_path", "text", "The configuration file."),
        EvidenceField("project", "text", "The project a Claude Code server is configured for."),
        EvidenceField("server", "text", "The server's name in the configuration."),
        EvidenceField("transport", "text", "stdio, http, sse..."),
        EvidenceField("command", "text", "Basename of the command that starts it."),
        EvidenceField("args", "text list", "Its arguments, redacted."),
        EvidenceField("package", "text", "The npm/PyPI package or image a runner starts."),
        EvidenceField("url", "text", "Its URL reduced to scheme, host and port."),
        EvidenceField("env_keys", "text list", "Names (never values) of its environment."),
        EvidenceField("header_keys", "text list", "Names (never values) of its HTTP headers."),
        EvidenceField("enabled", "boolean", "Whether the client has it enabled."),
    )

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        wanted = layouts(ctx)
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for config in CONFIGS:
                if config.layout != "any" and config.layout not in wanted:
                    continue
                paths = (
                    sorted(user.home.glob(config.rel))
                    if "*" in config.rel
                    else [user.home / config.rel]
                )
                for path in paths:
                    if exists(path):
                        yield from self._config(user, config, path)

    def _config(self, user: LocalUser, config: McpConfig, path: Path) -> Iterator[ScanItem]:
        try:
            if config.fmt == "toml":
                try:
                    doc: dict[str, Any] = tomllib.loads(read_text(path, MAX_SMALL_BYTES * 4))
                except tomllib.TOMLDecodeError as exc:
                    raise Unreadable(path, f"malformed TOML: {exc}") from exc
            else:
                doc = read_json_object(path, comments=config.fmt == "jsonc")
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        scopes: list[tuple[str | None, object]] = [(None, _lookup(doc, config.key))]
        if config.client == "claude_code" and isinstance(doc.get("projects"), dict):
            scopes += [
                (str(project)[:1024], _lookup(entry, "mcpServers"))
                for project, entry in doc["projects"].items()
                if isinstance(entry, dict)
            ]
        for project, servers in scopes:
            if not isinstance(servers, dict):
                continue
            for server_name, server in servers.items():
                if isinstance(server, dict):
                    yield self._server(user, config, str(path), project, str(server_name), server)

    def _server(
        self,
        user: LocalUser,
        config: McpConfig,
        path: str,
        project: str | None,
        server_name: str,
        server: Mapping[str, Any],
    ) -> Observation:
        command_value = server.get("command")
        args_value = server.get("args")
        if isinstance(command_value, dict):  # Zed: {"path": ..., "args": [...], "env": {...}}
            args_value = command_value.get("args")
            env = command_value.get("env")
            command_value = command_value.get("path")
        else:
            env = server.get("env")
        command = command_value if isinstance(command_value, str) else None
        args = [str(arg) for arg in args_value] if isinstance(args_value, list) else []
        url_value = server.get("url") or server.get("serverUrl") or server.get("httpUrl")
        url = url_value if isinstance(url_value, str) else None
        transport = server.get("type") or server.get("transport")
        if not isinstance(transport, str):
            transport = "http" if url else "stdio"
        headers = server.get("headers")
        evidence: dict[str, EvidenceValue] = {
            "client": config.client,
            "config_path": path,
            "server": server_name[:256],
            "transport": transport[:32],
            "command": _basename(command) if command else None,
            "args": redact_args(args) if args else [],
            "url": redact_url(url) if url else None,
            "env_keys": names_only(env) if isinstance(env, dict) else [],
            "header_keys": names_only(headers) if isinstance(headers, dict) else [],
            "enabled": server.get("disabled") is not True and server.get("enabled") is not False,
        }
        if project is not None:
            evidence["project"] = project
        hints: dict[str, object] = {"client": config.client, "server": server_name}
        package = launched_package(command, args) if command else None
        host = url_host(url) if url else None
        if package is not None:
            kind, indicator = package
            evidence["package"] = indicator
        elif host:
            kind, indicator = IndicatorKind.HOST, host
        else:
            kind, indicator = IndicatorKind.PROCESS, _basename(command or server_name)
            hints.update({"exe": command, "cmdline": [command or "", *args]})
        return Observation(
            kind=FindingKind.MCP_SERVER,
            indicator_kind=kind,
            indicator=indicator[:1024] or server_name[:1024],
            user=user.name,
            evidence=evidence,
            hints=hints,
        )


def _lookup(doc: object, dotted: str) -> object:
    for part in dotted.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc
