"""Installed AI packages: Python distributions (dist-info, egg-info) and npm packages.

Python: the site-packages of system interpreters, per-user installs and virtual environments in
the usual places (pyenv, conda, pipx, uv, pipenv, poetry, and ``.venv``/``venv`` folders up to
two levels below a home). Node: global and per-user ``node_modules`` (npm, nvm, volta, fnm, pnpm,
bun, yarn) and project ``node_modules`` up to two levels below a home.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.evidence import EvidenceField
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_MANIFEST_BYTES,
    Missing,
    Unreadable,
    is_dir,
    layouts,
    list_dir,
    read_head,
    read_json_object,
    subdirs,
    text,
    usable_home,
)
from signatures import EvidenceValue, FindingKind, IndicatorKind

_DIST = re.compile(
    r"^(?P<name>.+?)-(?P<version>[^-]+?)(-py\d[\d.]*)?\.(?P<kind>dist-info|egg-info)$"
)
_REQUIRES = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.I)
_PROJECT_ENVS = (".venv", "venv", "env", ".env")
_FIRST_HEADER_BYTES = 8 * 1024  # headers are usually a few KB; the description follows
_MAX_HEADER_BYTES = 64 * 1024
_MAX_DEPS = 128
_MAX_PROJECT_DIRS = 4000


@dataclass(frozen=True, slots=True)
class PackageRoot:
    """A directory of installed packages and what installed it."""

    ecosystem: str  # "pypi" | "npm"
    path: Path
    environment: str  # "system", "user", "virtualenv", "conda", "global", "project", ...
    user: str | None


def _system_python(ctx: ScanContext) -> Iterator[PackageRoot]:
    wanted = layouts(ctx)
    patterns: list[str] = []
    if "linux" in wanted or "darwin" in wanted:
        patterns += [
            "usr/lib/python3*/site-packages",
            "usr/lib/python3*/dist-packages",
            "usr/lib/python3/dist-packages",
            "usr/local/lib/python3*/site-packages",
            "usr/local/lib/python3*/dist-packages",
            "usr/lib64/python3*/site-packages",
            "opt/conda/lib/python3*/site-packages",
        ]
    if "darwin" in wanted:
        patterns += [
            "opt/homebrew/lib/python3*/site-packages",
            "Library/Frameworks/Python.framework/Versions/*/lib/python3*/site-packages",
            "usr/local/Cellar/python@*/*/Frameworks/Python.framework/Versions/*/lib/"
            "python3*/site-packages",
        ]
    if "windows" in wanted:
        patterns += [
            "Python3*/Lib/site-packages",
            "Program Files/Python3*/Lib/site-packages",
            "ProgramData/anaconda3/Lib/site-packages",
            "ProgramData/miniconda3/Lib/site-packages",
        ]
    for pattern in patterns:
        for path in sorted(ctx.root.glob(pattern)):
            yield PackageRoot("pypi", path, "system", None)


def _user_python(ctx: ScanContext, user: LocalUser) -> Iterator[PackageRoot]:
    home = user.home
    direct = [
        (".local/lib/python3*/site-packages", "user"),
        ("Library/Python/3*/lib/python/site-packages", "user"),
        ("AppData/Roaming/Python/Python3*/site-packages", "user"),
        ("AppData/Local/Programs/Python/Python3*/Lib/site-packages", "user"),
    ]
    for pattern, environment in direct:
        for path in sorted(home.glob(pattern)):
            yield PackageRoot("pypi", path, environment, user.name)
    env_parents = [
        (".virtualenvs", "virtualenv"),
        (".local/share/virtualenvs", "pipenv"),
        (".cache/pypoetry/virtualenvs", "poetry"),
        ("Library/Caches/pypoetry/virtualenvs", "poetry"),
        (".pyenv/versions", "pyenv"),
        (".local/pipx/venvs", "pipx"),
        (".local/share/pipx/venvs", "pipx"),
        (".local/share/uv/tools", "uv_tool"),
        ("miniconda3/envs", "conda"),
        ("anaconda3/envs", "conda"),
        ("miniforge3/envs", "conda"),
        (".conda/envs", "conda"),
    ]
    envs: list[tuple[Path, str]] = []
    for rel, environment in env_parents:
        try:
            envs += [(path, environment) for path in subdirs(home / rel)]
        except Unreadable:
            continue  # one unreadable tool folder must not hide the user's other packages
    envs += [(home / name, "conda") for name in ("miniconda3", "anaconda3", "miniforge3")]
    envs += [(home / name, "virtualenv") for name in _PROJECT_ENVS]
    envs += [(path, "virtualenv") for path in _project_dirs(home, _PROJECT_ENVS)]
    for env, environment in envs:
        for path in _env_site_packages(env):
            yield PackageRoot("pypi", path, environment, user.name)


def _env_site_packages(env: Path) -> list[Path]:
    if not is_dir(env):
        return []
    found = sorted(env.glob("lib/python3*/site-packages")) + sorted(
        env.glob("lib64/python3*/site-packages")
    )
    windows = env / "Lib" / "site-packages"
    if is_dir(windows):
        found.append(windows)
    return list(dict.fromkeys(found))


def _project_dirs(home: Path, names: Sequence[str]) -> list[Path]:
    """Return folders named ``names`` one or two levels below ``home`` (not in hidden dirs)."""
    found: list[Path] = []
    budget = _MAX_PROJECT_DIRS
    try:
        level1 = [p for p in subdirs(home) if not p.name.startswith(".")]
    except Unreadable:
        return []
    for first in level1:
        budget -= 1
        try:
            level2 = subdirs(first)
        except Unreadable:
            continue
        for second in level2:
            budget -= 1
            if second.name in names:
                found.append(second)
            elif not second.name.startswith(".") and budget > 0 and second.name != "node_modules":
                for candidate in names:
                    if is_dir(second / candidate):
                        found.append(second / candidate)
        if budget <= 0:
            break
    return found


def _system_node(ctx: ScanContext) -> Iterator[PackageRoot]:
    for rel in (
        "usr/lib/node_modules",
        "usr/local/lib/node_modules",
        "opt/homebrew/lib/node_modules",
        "Program Files/nodejs/node_modules",
    ):
        path = ctx.path(rel)
        if is_dir(path):
            yield PackageRoot("npm", path, "global", None)


def _user_node(user: LocalUser) -> Iterator[PackageRoot]:
    home = user.home
    rels = [
        ".npm-global/lib/node_modules",
        ".local/lib/node_modules",
        "n/lib/node_modules",
        "AppData/Roaming/npm/node_modules",
        ".local/share/pnpm/global/5/node_modules",
        "Library/pnpm/global/5/node_modules",
        "AppData/Local/pnpm/global/5/node_modules",
        ".bun/install/global/node_modules",
        ".config/yarn/global/node_modules",
        "AppData/Local/Yarn/Data/global/node_modules",
    ]
    for rel in rels:
        if is_dir(home / rel):
            yield PackageRoot("npm", home / rel, "global", user.name)
    for pattern in (
        ".nvm/versions/node/*/lib/node_modules",
        ".fnm/node-versions/*/installation/lib/node_modules",
        ".local/share/fnm/node-versions/*/installation/lib/node_modules",
        "AppData/Roaming/nvm/*/node_modules",
    ):
        for path in sorted(home.glob(pattern)):
            yield PackageRoot("npm", path, "global", user.name)
    for path in sorted(home.glob(".volta/tools/image/packages/*/lib/node_modules")):
        yield PackageRoot("npm", path, "volta", user.name)
    for path in _project_dirs(home, ("node_modules",)):
        yield PackageRoot("npm", path, "project", user.name)


class PackageScanner:
    """Yield one observation per installed Python or npm package."""

    name = "packages"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("ecosystem", "text", "pypi or npm."),
        EvidenceField("package", "text", "Package name."),
        EvidenceField("version", "text", "Installed version."),
        EvidenceField(
            "environment",
            "text",
            "What installed it: system, user, virtualenv, conda, pipx, global, project...",
        ),
        EvidenceField("path", "text", "The package's metadata or install folder."),
        EvidenceField("commands", "text list", "Commands an npm package installs."),
    )

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        roots: list[PackageRoot] = [*_system_python(ctx), *_system_node(ctx)]
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
                roots += [*_user_python(ctx, user), *_user_node(user)]
            except Unreadable as problem:
                yield problem.to_error(self.name)
        seen: set[Path] = set()
        for root in roots:
            if root.path in seen:
                continue
            seen.add(root.path)
            if root.ecosystem == "pypi":
                yield from self._python(root)
            else:
                yield from self._node(root)

    def _python(self, root: PackageRoot) -> Iterator[ScanItem]:
        try:
            entries = list_dir(root.path)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for entry in entries:
            found = _DIST.match(entry.name)
            if not found:
                continue
            meta = os.path.join(
                entry.path, "METADATA" if found["kind"] == "dist-info" else "PKG-INFO"
            )
            dependencies: list[str] = []
            try:
                dependencies = _requires(meta)
            except Unreadable as problem:
                yield problem.to_error(self.name)
            name = found["name"]
            yield Observation(
                kind=FindingKind.PACKAGE,
                indicator_kind=IndicatorKind.PYPI,
                indicator=name,
                user=root.user,
                evidence=self._evidence(root, name, found["version"], entry.path),
                hints={"dependencies": dependencies},
            )

    def _node(self, root: PackageRoot) -> Iterator[ScanItem]:
        try:
            entries = list_dir(root.path)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.name.startswith("@"):
                try:
                    scoped = list_dir(Path(entry.path))
                except Unreadable as problem:
                    yield problem.to_error(self.name)
                    continue
                for inner in scoped:
                    yield from self._node_package(root, inner.path)
            else:
                yield from self._node_package(root, entry.path)

    def _node_package(self, root: PackageRoot, path: str) -> Iterator[ScanItem]:
        manifest_path = os.path.join(path, "package.json")
        try:
            manifest = read_json_object(manifest_path, MAX_MANIFEST_BYTES)
        except Missing:
            return
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        name = manifest.get("name")
        if not isinstance(name, str) or not name:
            parent, base = os.path.split(path)
            name = base if parent == str(root.path) else f"{os.path.basename(parent)}/{base}"
        dependencies: list[str] = []
        for key in ("dependencies", "peerDependencies", "optionalDependencies"):
            deps = manifest.get(key)
            if isinstance(deps, dict):
                dependencies += [str(dep) for dep in deps]
        bins = manifest.get("bin")
        evidence = self._evidence(root, name, text(manifest.get("version"), 64), path)
        if isinstance(bins, dict):
            evidence["commands"] = sorted(str(command)[:128] for command in bins)[:32]
        yield Observation(
            kind=FindingKind.PACKAGE,
            indicator_kind=IndicatorKind.NPM,
            indicator=name[:214],
            user=root.user,
            evidence=evidence,
            hints={"dependencies": list(dict.fromkeys(dependencies))[:_MAX_DEPS]},
        )

    @staticmethod
    def _evidence(
        root: PackageRoot, name: str, version: str | None, path: str
    ) -> dict[str, EvidenceValue]:
        return {
            "ecosystem": root.ecosystem,
            "package": name,
            "version": version,
            "environment": root.environment,
            "path": path,
        }


def _requires(meta: str) -> list[str]:
    """Read the required (not extra) dependency names from a METADATA header only."""
    try:
        head = read_head(meta, _FIRST_HEADER_BYTES)
        if len(head) == _FIRST_HEADER_BYTES and b"\n\n" not in head:  # a long header: more
            head = read_head(meta, _MAX_HEADER_BYTES)
    except Missing:
        return []  # an egg-info or dist-info without metadata: name and version still count
    names: list[str] = []
    for raw in head.split(b"\n"):
        if not raw.strip():
            break  # the header ends at the first blank line; the description is never parsed
        if raw[:13].lower() == b"requires-dist" and b"extra ==" not in raw:
            found = _REQUIRES.match(raw.decode("utf-8", errors="replace"))
            if found:
                names.append(found.group(1))
    return names[:_MAX_DEPS]
