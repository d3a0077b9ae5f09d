"""AI tools that leave a folder or a binary in the home, however they were installed.

Coding agents and AI CLIs (Claude Code, Codex CLI, Gemini CLI, aider, Goose, opencode...) keep
a configuration folder in the home and are often installed by a native installer rather than a
package manager. Their presence, and when they were last written to, says they are used.
Only names, paths and modification times are read: never the files' contents (which hold
conversation histories and credentials).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from agent.scanners.base import Observation, ScanContext, ScanItem
from agent.scanners.files import Unreadable, unix_time, usable_home
from signatures import FindingKind, IndicatorKind


@dataclass(frozen=True, slots=True)
class Footprint:
    """A path relative to a home whose existence reveals one AI tool."""

    tool: str
    rel: str
    what: str  # "config" (a folder or file the tool writes) or "binary"


FOOTPRINTS: tuple[Footprint, ...] = (
    Footprint("claude_code", ".claude", "config"),
    Footprint("claude_code", ".claude.json", "config"),
    Footprint("claude_code", ".local/share/claude", "binary"),
    Footprint("claude_code", ".claude/local/claude", "binary"),
    Footprint("codex_cli", ".codex", "config"),
    Footprint("gemini_cli", ".gemini", "config"),
    Footprint("github_copilot", ".config/github-copilot", "config"),
    Footprint("github_copilot_cli", ".copilot", "config"),
    Footprint("aider", ".aider.conf.yml", "config"),
    Footprint("aider", ".aider", "config"),
    Footprint("continue", ".continue", "config"),
    Footprint("goose", ".config/goose", "config"),
    Footprint("opencode", ".config/opencode", "config"),
    Footprint("opencode", ".local/share/opencode", "config"),
    Footprint("qwen_code", ".qwen", "config"),
    Footprint("amazon_q", ".aws/amazonq", "config"),
    Footprint("cursor_agent", ".local/share/cursor-agent", "binary"),
    Footprint("llm", ".config/io.datasette.llm", "config"),
    Footprint("llm", "Library/Application Support/io.datasette.llm", "config"),
    Footprint("ollama", ".ollama", "config"),
    Footprint("lm_studio", ".lmstudio", "config"),
    Footprint("lm_studio", ".cache/lm-studio", "config"),
    Footprint("chatgpt_desktop", "Library/Application Support/com.openai.chat", "config"),
    Footprint("chatgpt_desktop", "AppData/Roaming/ChatGPT", "config"),
    Footprint("claude_desktop", "Library/Application Support/Claude", "config"),
    Footprint("claude_desktop", ".config/Claude", "config"),
    Footprint("claude_desktop", "AppData/Roaming/Claude", "config"),
)


class FootprintScanner:
    """Yield one observation per AI tool folder or binary found in a home."""

    name = "ai_tool_footprints"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for footprint in FOOTPRINTS:
                path = os.path.join(user.home, footprint.rel)
                try:
                    info = os.stat(path, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except OSError as exc:
                    yield Unreadable(path, f"unreadable: {exc.strerror}").to_error(self.name)
                    continue
                if stat.S_ISDIR(info.st_mode):
                    path += os.sep  # so that catalogue fragments like "/.lmstudio/" match
                yield Observation(
                    kind=FindingKind.APP,
                    indicator_kind=IndicatorKind.INSTALL_PATH,
                    indicator=path,
                    user=user.name,
                    evidence={
                        "tool": footprint.tool,
                        "what": footprint.what,
                        "path": path,
                        "modified_at": unix_time(info.st_mtime),
                    },
                    hints={"tool": footprint.tool},
                )
