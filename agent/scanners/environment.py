"""AI API keys configured for a user: the *names* of variables set in shell start-up files,
``.env`` files of projects, and (live, on Windows) the user and system environment.

Only the variable name and where it is set are observed; values are never kept or reported.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.evidence import EvidenceField
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_SMALL_BYTES,
    Missing,
    Unreadable,
    is_dir,
    read_text,
    subdirs,
    usable_home,
)
from signatures import FindingKind, IndicatorKind

# Shell and tool start-up files, relative to a home.
STARTUP_FILES: tuple[str, ...] = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".config/fish/config.fish",
    ".envrc",
    ".env",
    ".pam_environment",
    ".config/environment.d/ai.conf",
    "Documents/PowerShell/Microsoft.PowerShell_profile.ps1",
    "Documents/WindowsPowerShell/Microsoft.PowerShell_profile.ps1",
)
# export NAME=..., NAME=..., set -x NAME ..., setenv NAME ..., $env:NAME = ...
_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+|declare\s+-x\s+|set\s+-gx\s+|set\s+-x\s+|setenv\s+|\$env:)?
        (?P<name>[A-Za-z_][A-Za-z0-9_]{1,127})
        (?:\s*=|\s+(?=\S))""",
    re.X,
)
_INTERESTING = re.compile(r"(?i)(api_?key|_token|_secret|_key|_endpoint|_base_url|_host)$")
_ENV_FILES = (".env", ".env.local", ".env.development", ".env.production")
_MAX_PROJECTS = 2000


def assigned_names(text: str, *, key_like_only: bool) -> list[str]:
    """Return the variable names a start-up or .env file assigns (values are discarded)."""
    names: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = _ASSIGNMENT.match(line)
        if found is None:
            continue
        name = found.group("name")
        if key_like_only and not _INTERESTING.search(name):
            continue  # shell files set PATH, PS1...: only key-like names are worth keeping
        if name not in names:
            names.append(name)
    return names


class EnvironmentScanner:
    """Yield one observation per AI-looking variable name set for a user."""

    name = "environment"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("variable", "text", "The variable's name (never its value)."),
        EvidenceField("source", "text", "startup_file, dotenv, registry_user or registry_system."),
        EvidenceField("path", "text", "The file (or registry key) that sets it."),
    )

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for rel in STARTUP_FILES:
                yield from self._file(user, user.home / rel, "startup_file", key_like_only=True)
            for project in _projects(user.home):
                for name in _ENV_FILES:
                    yield from self._file(user, project / name, "dotenv", key_like_only=False)
        if ctx.root == Path("/") and ctx.platform == "windows":
            yield from self._windows_registry()

    def _file(
        self, user: LocalUser, path: Path, source: str, *, key_like_only: bool
    ) -> Iterator[ScanItem]:
        try:
            content = read_text(path, MAX_SMALL_BYTES)
        except Missing:
            return
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for variable in assigned_names(content, key_like_only=key_like_only):
            yield Observation(
                kind=FindingKind.ENV_VAR,
                indicator_kind=IndicatorKind.ENV_VAR,
                indicator=variable,
                user=user.name,
                evidence={"variable": variable, "source": source, "path": str(path)},
                hints={"variable": variable},
            )

    def _windows_registry(self) -> Iterator[ScanItem]:
        """Variable names of the user (HKCU) and system environment (Windows only)."""
        try:
            winreg: Any = importlib.import_module("winreg")
        except ImportError:
            return
        keys = (
            (winreg.HKEY_CURRENT_USER, "Environment", "user"),
            (
                winreg.HKEY_LOCAL_MACHINE,
                r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment",
                "system",
            ),
        )
        for hive, key_path, scope in keys:
            try:
                key = winreg.OpenKey(hive, key_path)
            except OSError:
                continue
            with key:
                index = 0
                while True:
                    try:
                        variable, _value, _kind = winreg.EnumValue(key, index)
                    except OSError:
                        break
                    index += 1
                    if not _INTERESTING.search(variable):
                        continue
                    yield Observation(
                        kind=FindingKind.ENV_VAR,
                        indicator_kind=IndicatorKind.ENV_VAR,
                        indicator=variable,
                        evidence={
                            "variable": variable,
                            "source": f"registry_{scope}",
                            "path": key_path,
                        },
                        hints={"variable": variable},
                    )


def _projects(home: Path) -> list[Path]:
    """Folders one and two levels below a home (not hidden, not dependency folders)."""
    found: list[Path] = []
    try:
        level1 = [p for p in subdirs(home) if not p.name.startswith(".")]
    except Unreadable:
        return []
    for first in level1:
        found.append(first)
        try:
            found += [
                p
                for p in subdirs(first)
                if not p.name.startswith(".")
                and p.name not in ("node_modules", "site-packages", "venv", "env")
            ]
        except Unreadable:
            continue
        if len(found) >= _MAX_PROJECTS:
            break
    return [p for p in found[:_MAX_PROJECTS] if is_dir(p)]
