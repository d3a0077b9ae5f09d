"""Installed AI packages: Python distributions (dist-info, egg-info) and npm packages.

Python: the site-packages of system interpreters, per-user installs and virtual environments in
the usual places (pyenv, conda and the environments conda lists, pipx, uv tools, pipenv, poetry,
Homebrew, and ``.venv``/``venv`` folders up to two levels below a home). Node: global and
per-user ``node_modules`` (npm, the prefixes npm's own config files name, nvm, volta, fnm, pnpm,
bun, yarn, Homebrew) and project ``node_modules`` up to two levels below a home. On a live scan,
also wherever running programs really keep theirs: the site-packages of every running Python's
``sys.prefix`` and the ``node_modules`` of every running node script
(:mod:`agent.scanners.owners`). Each folder is read once per scan (by its real path).

A package that another package of its environment needs, and that the user did not ask for
(pip's REQUESTED marker, pipx's and uv's tool receipts, a project's package.json), carries the
``required_by`` hint naming those requested packages: the runner attributes it to them, so the
OpenAI SDK inside an AI CLI's own environment is the CLI's, not a second finding.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.evidence import EvidenceField
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_MANIFEST_BYTES,
    Missing,
    Unreadable,
    exists,
    is_dir,
    layouts,
    list_dir,
    read_bytes,
    read_head,
    read_json_object,
    rerooted,
    subdirs,
    text,
    usable_home,
)
from agent.scanners.owners import MAX_CONFIG_BYTES, is_live, owners_for
from agent.scanners.processes import process_table
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError

_DIST = re.compile(
    r"^(?P<name>.+?)-(?P<version>[^-]+?)(-py\d[\d.]*)?\.(?P<kind>dist-info|egg-info)$"
)
_REQUIRES = re.compile(r"^Requires-Dist:\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.I)
_PROJECT_ENVS = (".venv", "venv", "env", ".env")
_FIRST_HEADER_BYTES = 8 * 1024  # headers are usually a few KB; the description follows
_MAX_HEADER_BYTES = 64 * 1024
_MAX_DEPS = 128
_MAX_PROJECT_DIRS = 4000
_MAX_ROOTS = 2000  # package folders read in one scan
_MAX_ENTRIES = 20_000  # packages read from one folder
_MAX_REQUIRED_BY = 8
_NPMRC_PREFIX = re.compile(r"^\s*prefix\s*=\s*(?P<value>.+?)\s*$", re.M)


@dataclass(frozen=True, slots=True)
class PackageRoot:
    """A directory of installed packages and what installed it."""

    ecosystem: str  # "pypi" | "npm"
    path: Path
    environment: str  # "system", "user", "virtualenv", "conda", "global", "project", ...
    user: str | None
    origin: str = "location"  # "location" (a usual place) or "process" (a running program's)


@dataclass(slots=True)
class _Package:
    """One package read from a root, before the environment's dependency attribution."""

    name: str
    version: str | None
    path: str
    dependencies: list[str]
    requested: bool
    commands: list[str] | None = None
    required_by: list[str] = field(default_factory=list)


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
        ("AppData/Roaming/uv/tools", "uv_tool"),
        ("AppData/Roaming/uv/data/tools", "uv_tool"),
        ("pipx/venvs", "pipx"),
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
    envs += [(path, "conda") for path in _conda_listed(ctx, home)]
    envs += [(home / name, "virtualenv") for name in _PROJECT_ENVS]
    envs += [(path, "virtualenv") for path in _project_dirs(home, _PROJECT_ENVS)]
    for env, environment in envs:
        for path in _env_site_packages(env):
            yield PackageRoot("pypi", path, environment, user.name)


def _conda_listed(ctx: ScanContext, home: Path) -> list[Path]:
    """Return the environments conda itself lists for a user (~/.conda/environments.txt)."""
    try:
        raw = read_bytes(home / ".conda" / "environments.txt", MAX_CONFIG_BYTES)
    except Unreadable:
        return []  # missing (the usual case) or unreadable: the usual places still count
    listed = []
    for line in raw.decode("utf-8", errors="replace").splitlines()[:500]:
        line = line.strip()
        if line and not line.startswith("#"):
            listed.append(rerooted(ctx, line))
    return listed


def _system_tools(ctx: ScanContext) -> Iterator[PackageRoot]:
    """Global pipx, conda under /opt, and Homebrew formulae that keep their own environment."""
    wanted = layouts(ctx)
    if not ({"linux", "darwin"} & wanted):
        return
    envs: list[tuple[Path, str]] = []
    for rel, environment in (
        ("opt/pipx/venvs", "pipx"),
        ("opt/conda/envs", "conda"),
        ("opt/miniconda3/envs", "conda"),
        ("opt/anaconda3/envs", "conda"),
    ):
        try:
            envs += [(path, environment) for path in subdirs(ctx.path(rel))]
        except Unreadable:
            continue
    envs += [(ctx.path(rel), "conda") for rel in ("opt/miniconda3", "opt/anaconda3")]
    cellars = ("opt/homebrew/Cellar", "usr/local/Cellar", "home/linuxbrew/.linuxbrew/Cellar")
    for cellar in cellars:
        # brew installs a Python CLI as Cellar/<formula>/<version>/libexec (a virtualenv) and
        # a node CLI under Cellar/<formula>/<version>/libexec/lib/node_modules.
        for libexec in sorted(ctx.path(cellar).glob("*/*/libexec"))[:_MAX_ROOTS]:
            envs.append((libexec, "homebrew"))
            modules = libexec / "lib" / "node_modules"
            if is_dir(modules):
                yield PackageRoot("npm", modules, "homebrew", None)
    for rel in ("home/linuxbrew/.linuxbrew/lib/node_modules",):
        if is_dir(ctx.path(rel)):
            yield PackageRoot("npm", ctx.path(rel), "homebrew", None)
    for path in sorted(ctx.path("home/linuxbrew/.linuxbrew/lib").glob("python3*/site-packages")):
        yield PackageRoot("pypi", path, "homebrew", None)
    for env, environment in envs:
        for path in _env_site_packages(env):
            yield PackageRoot("pypi", path, environment, None)


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


def _npmrc_prefixes(ctx: ScanContext, home: Path | None) -> Iterator[PackageRoot]:
    """Global package folders of the prefixes npm's own config files set (``prefix=``)."""
    if home is not None:
        files = [home / ".npmrc"]
    else:
        files = [
            ctx.path(rel)
            for rel in (
                "etc/npmrc",
                "usr/etc/npmrc",
                "usr/local/etc/npmrc",
                "opt/homebrew/etc/npmrc",
                "usr/lib/node_modules/npm/npmrc",
                "usr/local/lib/node_modules/npm/npmrc",
                "opt/homebrew/lib/node_modules/npm/npmrc",
                "Program Files/nodejs/node_modules/npm/npmrc",
            )
        ]
    for npmrc in files:
        try:
            raw = read_bytes(npmrc, MAX_CONFIG_BYTES)
        except Unreadable:
            continue  # no config file there (the usual case)
        for found in _NPMRC_PREFIX.finditer(raw.decode("utf-8", errors="replace")):
            value = found["value"].strip().strip("\"'")
            if home is not None:
                value = re.sub(r"^(~|\$\{HOME\}|\$HOME)(?=[/\\]|$)", str(home), value)
            if "$" in value or "%" in value:
                continue  # another variable: the scan cannot know its value
            if not value or not (value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value)):
                continue
            prefix = (
                rerooted(ctx, value) if not Path(value).is_relative_to(ctx.root) else Path(value)
            )
            for modules in (prefix / "lib" / "node_modules", prefix / "node_modules"):
                if is_dir(modules):
                    yield PackageRoot("npm", modules, "npm_prefix", None)


def _requested_python(root: PackageRoot) -> set[str] | None:
    """Return the packages the environment's owner asked for, from pipx's or uv's receipt.

    None when the environment keeps no receipt (then each distribution's REQUESTED counts).
    """
    prefix = _python_prefix(root.path)
    if prefix is None:
        return None
    try:
        raw = read_bytes(prefix / "pipx_metadata.json", MAX_MANIFEST_BYTES)
    except Unreadable:
        pass
    else:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if isinstance(doc, dict):
            names = set()
            main = doc.get("main_package")
            if isinstance(main, dict) and isinstance(main.get("package"), str):
                names.add(_pep503(main["package"]))
            injected = doc.get("injected_packages")
            if isinstance(injected, dict):
                names.update(_pep503(str(name)) for name in injected)
            return names or None
    try:
        raw = read_bytes(prefix / "uv-receipt.toml", MAX_CONFIG_BYTES)
    except Unreadable:
        return None
    try:
        receipt = tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError:
        return None
    tool = receipt.get("tool")
    requirements = tool.get("requirements") if isinstance(tool, dict) else None
    if not isinstance(requirements, list):
        return None
    names = {
        _pep503(str(requirement["name"]))
        for requirement in requirements
        if isinstance(requirement, dict) and isinstance(requirement.get("name"), str)
    }
    return names or None


def _python_prefix(site: Path) -> Path | None:
    parts = site.parts
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] in ("lib", "lib64", "Lib"):
            return Path(*parts[:index])
    return None


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def _attribute_dependencies(packages: list[_Package], *, folded: bool) -> None:
    """Name, on each package nobody asked for, the requested packages that need it."""
    if all(package.requested for package in packages):
        return
    key = _pep503 if folded else str.lower
    by_name = {key(package.name): package for package in packages}
    for root in packages:
        if not root.requested:
            continue
        seen: set[str] = set()
        stack = [key(dep) for dep in root.dependencies]
        while stack and len(seen) < _MAX_ENTRIES:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            dependency = by_name.get(name)
            if dependency is None:
                continue
            if not dependency.requested and len(dependency.required_by) < _MAX_REQUIRED_BY:
                dependency.required_by.append(root.name)
            stack.extend(key(dep) for dep in dependency.dependencies)


def _running(ctx: ScanContext) -> list[PackageRoot]:
    """The package folders running programs use (a live scan only).

    Problems resolving a process are the process scanner's to report, not repeated here.
    """
    owners = owners_for(ctx)
    roots: list[PackageRoot] = []
    for info in process_table(ctx).infos:
        name, exe, pid, user = (
            info.get("name"),
            info.get("exe"),
            info.get("pid"),
            info.get("username"),
        )
        raw_cmdline = info.get("cmdline")
        cmdline = (
            tuple(str(part) for part in raw_cmdline)
            if isinstance(raw_cmdline, list | tuple)
            else ()
        )
        if not isinstance(name, str):
            continue
        exe = exe if isinstance(exe, str) else None
        if not owners.wants(name=name, exe=exe, cmdline=cmdline):
            continue
        owned = owners.of_process(
            pid=pid if isinstance(pid, int) else None, name=name, exe=exe, cmdline=cmdline
        )
        for environment in owned.environments:
            roots.append(
                PackageRoot(
                    environment.ecosystem,
                    Path(environment.path),
                    environment.kind,
                    user if isinstance(user, str) else None,
                    origin="process",
                )
            )
    return roots


def _project_dependencies(root: PackageRoot) -> set[str] | None:
    """Return what the project that owns a node_modules folder depends on directly.

    None for a global folder (everything there was asked for) or an unreadable project.
    """
    if root.environment not in ("project", "npx"):
        return None
    try:
        manifest = read_json_object(root.path.parent / "package.json", MAX_MANIFEST_BYTES)
    except Unreadable:
        return None
    wanted: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        deps = manifest.get(key)
        if isinstance(deps, dict):
            wanted.update(str(dep).lower() for dep in deps)
    return wanted


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
        roots: list[PackageRoot] = [
            *_system_python(ctx),
            *_system_node(ctx),
            *_system_tools(ctx),
            *_npmrc_prefixes(ctx, None),
        ]
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
                roots += [
                    *_user_python(ctx, user),
                    *_user_node(user),
                    *(
                        PackageRoot(root.ecosystem, root.path, root.environment, user.name)
                        for root in _npmrc_prefixes(ctx, user.home)
                    ),
                ]
            except Unreadable as problem:
                yield problem.to_error(self.name)
        if is_live(ctx):
            roots += _running(ctx)
        seen: set[str] = set()
        for root in roots:
            try:
                real = os.path.realpath(root.path)
            except (OSError, ValueError):
                real = str(root.path)
            if real in seen:
                continue  # one environment, read once however many ways lead to it
            seen.add(real)
            if len(seen) > _MAX_ROOTS:
                yield ScannerError(
                    scanner=self.name,
                    message=f"more than {_MAX_ROOTS} package folders; the rest were not read",
                )
                return
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
        receipt = _requested_python(root)
        packages: list[_Package] = []
        for entry in entries[:_MAX_ENTRIES]:
            found = _DIST.match(entry.name)
            if not found:
                continue
            dist_info = found["kind"] == "dist-info"
            meta = os.path.join(entry.path, "METADATA" if dist_info else "PKG-INFO")
            dependencies: list[str] = []
            try:
                dependencies = _requires(meta)
            except Unreadable as problem:
                yield problem.to_error(self.name)
            name = found["name"]
            if receipt is not None:
                requested = _pep503(name) in receipt
            else:
                requested = not dist_info or _requested_dist(entry.path)
            packages.append(_Package(name, found["version"], entry.path, dependencies, requested))
        _attribute_dependencies(packages, folded=True)
        for package in packages:
            yield self._observation(root, IndicatorKind.PYPI, package)

    def _node(self, root: PackageRoot) -> Iterator[ScanItem]:
        try:
            entries = list_dir(root.path)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        packages: list[_Package] = []
        for entry in entries[:_MAX_ENTRIES]:
            if entry.name.startswith("."):
                continue
            if entry.name.startswith("@"):
                try:
                    scoped = list_dir(Path(entry.path))
                except Unreadable as problem:
                    yield problem.to_error(self.name)
                    continue
                for inner in scoped[:_MAX_ENTRIES]:
                    yield from self._node_package(root, inner.path, packages)
            else:
                yield from self._node_package(root, entry.path, packages)
        wanted = _project_dependencies(root)
        if wanted is not None:
            for package in packages:
                package.requested = package.name.lower() in wanted
            _attribute_dependencies(packages, folded=False)
        for package in packages:
            yield self._observation(root, IndicatorKind.NPM, package)

    def _node_package(
        self, root: PackageRoot, path: str, packages: list[_Package]
    ) -> Iterator[ScanItem]:
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
        commands = (
            sorted(str(command)[:128] for command in bins)[:32] if isinstance(bins, dict) else None
        )
        packages.append(
            _Package(
                name[:214],
                text(manifest.get("version"), 64),
                path,
                list(dict.fromkeys(dependencies))[:_MAX_DEPS],
                True,
                commands,
            )
        )

    def _observation(
        self, root: PackageRoot, kind: IndicatorKind, package: _Package
    ) -> Observation:
        evidence = self._evidence(root, package.name, package.version, package.path)
        if package.commands is not None:
            evidence["commands"] = package.commands
        hints: dict[str, object] = {"dependencies": package.dependencies}
        if package.required_by:
            hints["required_by"] = list(package.required_by)
        return Observation(
            kind=FindingKind.PACKAGE,
            indicator_kind=kind,
            indicator=package.name,
            user=root.user,
            evidence=evidence,
            hints=hints,
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


def _requested_dist(dist_info: str) -> bool:
    """Tell whether a user asked for a distribution (pip's REQUESTED marker, PEP 376).

    Only pip's absence of the marker is trusted: uv marks every package it installs, and
    installers that keep no marker (conda, old tools) leave the question open, so they count.
    """
    if exists(Path(dist_info, "REQUESTED")):
        return True
    try:
        installer = read_head(os.path.join(dist_info, "INSTALLER"), 64)
    except Unreadable:
        return True
    return installer.strip().lower() != b"pip"


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
