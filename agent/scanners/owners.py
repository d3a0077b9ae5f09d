"""Which installed package a running program belongs to, and where its packages live.

A real AI command-line tool rarely names itself on its command line: an npm-installed CLI runs
as ``node /usr/local/bin/<tool>`` (a symlink into ``node_modules``) or as a native binary
somewhere inside ``node_modules``; a Python CLI runs as ``python /some/venv/bin/<tool>``. This
module follows the program a process runs (the script argument of an interpreter, or the
executable itself) through symlinks to its file, and walks up to the package that owns it: the
``package.json`` of the enclosing ``node_modules`` package (and the packages that carry it, for
a platform binary shipped as an optional dependency), or the Python distribution whose entry
points or RECORD list the file. It also tells which package environment (``site-packages`` of
the interpreter's ``sys.prefix``, ``node_modules`` of the script) the process uses, so that the
package scanner reads the packages where they really are.

Every read is bounded (file sizes, RECORD bytes per scan, directory levels); a problem with one
process (a broken symlink, a symlink loop, a huge or malformed ``package.json``, a process that
exits while it is looked at) is returned as that item's :class:`Unreadable`, never raised.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from agent.scanners.base import ScanContext
from agent.scanners.files import (
    MAX_MANIFEST_BYTES,
    Missing,
    Unreadable,
    read_bytes,
    read_json_object,
)

MAX_CONFIG_BYTES = 64 * 1024  # pyvenv.cfg, entry_points.txt, top_level.txt, receipts
MAX_RECORD_BYTES = 4 * 1024 * 1024  # one RECORD (a large wheel's is ~2 MB)
MAX_RECORD_BYTES_PER_SCAN = 32 * 1024 * 1024  # all RECORD reading of one scan
MAX_LEVELS = 24  # directory levels walked up from a script to its package
_CHUNK = 64 * 1024
_MAX_RECORD_LINE = 8 * 1024

_PYTHON = re.compile(r"^(?:python|pythonw|pypy)(?P<version>\d+(?:\.\d+)*)?[dmtw]*$")
_NODE = frozenset({"node", "nodejs"})
_SCOPED = re.compile(r"^@[^/\\]+$")
# An npm package name as npm accepts it (lower case, url-safe, at most 214 characters).
_NPM_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")
_DIST_DIR = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[^-]+?)\.dist-info$")
_PYPI_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
# Interpreter options that take the next argument as their value (so it is not the script).
_NODE_VALUE_OPTIONS = frozenset(
    {
        "-r",
        "--require",
        "--import",
        "--loader",
        "--experimental-loader",
        "-C",
        "--conditions",
        "--inspect-port",
        "--title",
        "--input-type",
        "--env-file",
        "--cpu-prof-dir",
        "--heap-prof-dir",
        "--diagnostic-dir",
        "--redirect-warnings",
        "--openssl-config",
        "--icu-data-dir",
        "--experimental-config-file",
    }
)
_NODE_INLINE = frozenset({"-e", "--eval", "-p", "--print", "-i", "--interactive", "-"})
_PYTHON_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})
_DENO_VALUE_OPTIONS = frozenset(
    {"-c", "--config", "--import-map", "--lock", "--cert", "--location", "--seed", "--env-file"}
)
_BUN_SUBCOMMANDS = frozenset({"run", "x"})


@dataclass(frozen=True, slots=True)
class OwningPackage:
    """An installed package a program belongs to."""

    ecosystem: str  # "npm" | "pypi"
    name: str
    version: str | None = None
    path: str | None = None  # the package folder (npm) or its .dist-info folder (pypi)


@dataclass(frozen=True, slots=True)
class PackageEnvironment:
    """A folder of installed packages a running program uses."""

    ecosystem: str  # "npm" | "pypi"
    path: str  # a node_modules or site-packages folder
    kind: str  # virtualenv, pipx, uv_tool, conda, homebrew, system, global, project...


@dataclass(slots=True)
class Ownership:
    """What one process runs: its packages (innermost first) and the environments it uses."""

    packages: list[OwningPackage] = field(default_factory=list)
    environments: list[PackageEnvironment] = field(default_factory=list)
    problems: list[Unreadable] = field(default_factory=list)
    script: str | None = None  # the resolved program file, when there is one


# Package runners seen as themselves: npm titles its process "npm exec <package>".
_RUNNERS = {"npm": "npm-cli", "npx": "npx", "pnpm": "pnpm", "pnpx": "npx"}


def _base(program: str) -> str:
    return program.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")


def _as_argv(cmdline: tuple[str, ...]) -> tuple[str, ...]:
    """Return a command line as arguments, also when a program retitled itself in one string."""
    while cmdline and cmdline[-1] == "":
        cmdline = cmdline[:-1]
    if len(cmdline) == 1 and " " in cmdline[0]:
        head = tuple(cmdline[0].split())
        if _base(head[0]) in _RUNNERS or interpreter_kind(head[0]) is not None:
            return head
    return cmdline


def interpreter_kind(program: str) -> str | None:
    """Return "node", "bun", "deno", "python", "uv" or "pipx" for an interpreter, else None."""
    base = program.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(".exe"):
        base = base[:-4]
    if base in _NODE:
        return "node"
    if base in ("bun", "bunx"):
        return "bun"
    if base == "deno":
        return "deno"
    if base in ("uv", "uvx"):
        return "uv"
    if base == "pipx":
        return "pipx"
    if _PYTHON.match(base):
        return "python"
    return None


def npm_spec_name(spec: str) -> tuple[str, str | None] | None:
    """Split an npm package spec (``@scope/name@1.2``, ``npm:name``) into (name, version)."""
    spec = spec.removeprefix("npm:")
    if spec.startswith("@"):
        scope, _, rest = spec.partition("/")
        name, _, version = rest.partition("@")
        name = f"{scope}/{name}"
    else:
        name, _, version = spec.partition("@")
    name = name.lower()
    if len(name) > 214 or not _NPM_NAME.match(name):
        return None
    return name, (version[:64] or None)


def pypi_spec_name(spec: str) -> tuple[str, str | None] | None:
    """Split a PyPI requirement or tool spec (``aider-chat==0.86``, ``llm@0.3``) into parts."""
    found = _PYPI_SPEC.match(spec)
    if not found:
        return None
    name = found["name"].rstrip("._-")
    rest = spec[len(found["name"]) :]
    version = None
    for marker in ("==", "@"):
        if rest.startswith(marker):
            version = rest[len(marker) :].strip()[:64] or None
    return (name[:128], version) if name else None


def _options_then_positional(
    args: Sequence[str], value_options: frozenset[str]
) -> tuple[list[str], str | None, list[str]]:
    """Return (options seen, first positional, the arguments after it)."""
    seen: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        seen.append(arg)
        if arg in value_options and index + 1 < len(args):
            seen.append(args[index + 1])
            index += 1
        index += 1
    if index >= len(args):
        return seen, None, []
    return seen, args[index], list(args[index + 1 :])


def _runner_package(kind: str, args: Sequence[str]) -> tuple[str, str] | None:
    """Return (ecosystem, spec) of the package a package runner (npx, uvx...) runs, if any."""
    if kind == "npm-cli" and args and args[0] in ("exec", "x"):
        kind, args = "npx", args[1:]
    if kind == "pnpm" and args and args[0] == "dlx":
        kind, args = "npx", args[1:]
    if kind == "pipx-cli" and args and args[0] == "run":
        kind, args = "pipx", args[1:]
    if kind == "uv" and args and args[0] in ("tool", "x"):
        args = args[2:] if args[0] == "tool" and len(args) > 1 and args[1] == "run" else args[1:]
        kind = "uvx"
    if kind == "npx":
        for flag in ("-p", "--package"):
            if flag in args[:-1]:
                return "npm", args[args.index(flag) + 1]
        for arg in args:
            if arg.startswith("--package="):
                return "npm", arg.split("=", 1)[1]
        _, first, _ = _options_then_positional(args, frozenset({"-c", "--call"}))
        return ("npm", first) if first else None
    if kind in ("pipx", "uvx"):
        for flag in ("--spec", "--from"):
            if flag in args[:-1]:
                return "pypi", args[args.index(flag) + 1]
        values = frozenset({"--python", "--with", "--index-url", "--pip-args", "--spec", "--from"})
        _, first, _ = _options_then_positional(args, values)
        return ("pypi", first) if first else None
    if kind == "bunx":
        _, first, _ = _options_then_positional(args, frozenset())
        return ("npm", first) if first else None
    return None


def _same_root(pid: int) -> bool:
    """Tell whether a process sees this filesystem root (not a container's)."""
    proc_root = f"/proc/{pid}/root"
    if not os.path.isdir("/proc"):
        return True  # no procfs (macOS, Windows): processes share the root
    try:
        theirs = os.stat(proc_root)
        ours = os.stat("/")
    except OSError:
        return False  # gone, or not ours to look at
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def _resolve(path: str) -> str:
    """Follow every symlink of ``path``. Raises Unreadable for a loop or a broken link."""
    try:
        return os.path.realpath(path, strict=True)
    except FileNotFoundError as exc:
        raise Unreadable(path, "missing (a broken symlink, or the file is gone)") from exc
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", 40):
            raise Unreadable(path, "symlink loop") from exc
        raise Unreadable(path, f"unreadable: {exc.strerror or type(exc).__name__}") from exc
    except RuntimeError as exc:  # older Pythons report loops this way
        raise Unreadable(path, "symlink loop") from exc


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _parse_config_lines(raw: bytes) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


class _SitePackages:
    """One site-packages folder: its distributions, and which of them own which files."""

    def __init__(self, path: str, dists: list[tuple[str, str, str]]) -> None:
        self.path = path
        self.dists = dists  # (dist-info folder name, name, version)
        self.scripts: dict[str, int] | None = None  # console script name -> dist index
        self.tops: dict[str, int] = {}  # top-level module or folder -> dist index
        self.bins: dict[str, int] = {}  # file name installed in bin/Scripts -> dist index
        self.records_read: set[int] = set()
        self.top_levels_read = False

    def package(self, index: int) -> OwningPackage:
        folder, name, version = self.dists[index]
        return OwningPackage("pypi", name, version, os.path.join(self.path, folder))


class PackageOwners:
    """Resolve processes to the packages they run; caches and read budgets last one scan."""

    def __init__(self, *, record_budget: int = MAX_RECORD_BYTES_PER_SCAN) -> None:
        self.record_budget = record_budget
        self._by_pid: dict[int, Ownership] = {}
        self._npm_packages: dict[str, OwningPackage | Unreadable | None] = {}
        self._projects: dict[str, str | None] = {}  # directory -> folder holding package.json
        self._sites: dict[str, _SitePackages | None] = {}
        self._prefixes: dict[str, tuple[str, str, list[str]]] = {}  # interpreter -> prefix info
        self._venv_dirs: dict[str, bool] = {}
        self._cwds: dict[int, str] = {}
        self._budget_reported = False

    # -- processes -------------------------------------------------------------------------

    def of_process(
        self,
        *,
        pid: int | None,
        name: str,
        exe: str | None,
        cmdline: Sequence[str],
        cwd: str | None = None,
    ) -> Ownership:
        """Return the packages and environments of one process (cached per pid)."""
        if pid is not None and pid in self._by_pid:
            return self._by_pid[pid]
        found = Ownership()
        try:
            self._process(found, pid, name, exe, tuple(cmdline), cwd)
        except Unreadable as problem:
            found.problems.append(problem)
        if pid is not None:
            self._by_pid[pid] = found
        return found

    def wants(self, *, name: str, exe: str | None, cmdline: Sequence[str]) -> bool:
        """Tell whether a process is worth resolving: an interpreter, or a packaged binary."""
        cmdline = _as_argv(tuple(cmdline))
        program = cmdline[0] if cmdline else name
        if interpreter_kind(program) or interpreter_kind(name) or _base(program) in _RUNNERS:
            return True
        if exe and (
            "node_modules" in exe
            or "site-packages" in exe
            or "dist-packages" in exe
            or self._in_venv_bin(exe)
        ):
            return True
        return False

    def _in_venv_bin(self, exe: str) -> bool:
        folder = os.path.dirname(exe)
        known = self._venv_dirs.get(folder)
        if known is None:
            known = os.path.basename(folder) in ("bin", "Scripts") and _is_file(
                os.path.join(os.path.dirname(folder), "pyvenv.cfg")
            )
            self._venv_dirs[folder] = known
        return known

    def _process(
        self,
        found: Ownership,
        pid: int | None,
        name: str,
        exe: str | None,
        cmdline: tuple[str, ...],
        cwd: str | None,
    ) -> None:
        if pid is not None and not _same_root(pid):
            return  # a container's process: its paths are not ours to read
        cmdline = _as_argv(cmdline)
        program = cmdline[0] if cmdline else (exe or name)
        kind = interpreter_kind(program) or interpreter_kind(name)
        if kind is None and exe and interpreter_kind(exe):
            kind = interpreter_kind(exe)
        args = list(cmdline[1:])
        runner = _RUNNERS.get(_base(program))
        if runner is not None:
            self._runner(found, runner, args)
        elif kind == "python":
            self._python_process(found, pid, program, exe, args, cwd)
        elif kind in ("node", "bun", "deno"):
            self._js_process(found, pid, kind, program, args, cwd)
        elif kind == "uv":
            base = program.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
            self._runner(found, "uvx" if base == "uvx" else "uv", args)
        elif kind == "pipx":
            self._runner(found, "pipx-cli", args)
        if exe and not found.packages:
            # A native binary that lives inside a package (node_modules, a venv, site-packages).
            self._packaged_file(found, exe, python=None)

    def _runner(self, found: Ownership, kind: str, args: Sequence[str]) -> None:
        runner = _runner_package(kind, args)
        if runner is None:
            return
        ecosystem, spec = runner
        parsed = npm_spec_name(spec) if ecosystem == "npm" else pypi_spec_name(spec)
        if parsed is not None:
            found.packages.insert(0, OwningPackage(ecosystem, parsed[0], parsed[1], None))

    def _script_path(self, pid: int | None, script: str, cwd: str | None) -> str:
        if os.path.isabs(script):
            return script
        if cwd is None and pid is not None:
            cwd = self._cwds.get(pid)
        if cwd is None and pid is not None:
            try:
                cwd = psutil.Process(pid).cwd()
            except psutil.NoSuchProcess as exc:
                raise Unreadable(script, "the process exited while it was looked at") from exc
            except (psutil.AccessDenied, psutil.ZombieProcess, OSError) as exc:
                raise Unreadable(script, "cannot read the process's working folder") from exc
            self._cwds[pid] = cwd
        if not cwd:
            raise Unreadable(script, "relative script and no working folder")
        return os.path.normpath(os.path.join(cwd, script))

    # -- JavaScript ------------------------------------------------------------------------

    def _js_process(
        self,
        found: Ownership,
        pid: int | None,
        kind: str,
        program: str,
        args: list[str],
        cwd: str | None,
    ) -> None:
        base = program.replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
        if kind == "bun":
            if base == "bunx":
                self._runner(found, "bunx", args)
                return
            if args and args[0] in _BUN_SUBCOMMANDS:
                if args[0] == "x":
                    self._runner(found, "bunx", args[1:])
                    return
                args = args[1:]
            _, script, rest = _options_then_positional(args, frozenset())
        elif kind == "deno":
            if args and args[0] in ("run", "serve", "task"):
                args = args[1:]
            _, script, rest = _options_then_positional(args, _DENO_VALUE_OPTIONS)
            if script is not None and script.startswith("npm:"):
                parsed = npm_spec_name(script)
                if parsed is not None:
                    found.packages.append(OwningPackage("npm", parsed[0], parsed[1], None))
                return
            if script is not None and "://" in script:
                return  # a remote module: nothing installed to look at
        else:
            options, script, rest = _options_then_positional(args, _NODE_VALUE_OPTIONS)
            if any(option in _NODE_INLINE for option in options):
                return  # inline code or a REPL
        if script is None:
            return
        path = self._script_path(pid, script, cwd)
        resolved = self._js_file(path)
        found.script = resolved
        self._packaged_file(found, resolved, python=None)
        owner = found.packages[0] if found.packages else None
        if owner is not None and owner.name in ("npm", "pnpm"):
            script_base = os.path.basename(resolved).lower()
            runner_kind = "npm-cli"
            if "npx" in script_base:
                runner_kind = "npx"
            elif owner.name == "pnpm":
                runner_kind = "pnpm"
            self._runner(found, runner_kind, rest)

    @staticmethod
    def _js_file(path: str) -> str:
        """Resolve a script as node would: the file, or with .js/.mjs/.cjs added."""
        try:
            return _resolve(path)
        except Unreadable:
            for suffix in (".js", ".mjs", ".cjs"):
                if _is_file(path + suffix):
                    return _resolve(path + suffix)
            raise

    def _npm_package(self, folder: str) -> OwningPackage | None:
        """Return the package whose folder this is (reads its package.json once per scan).

        Raises Unreadable for a package.json that is too large, truncated or not an object.
        """
        if folder in self._npm_packages:
            cached = self._npm_packages[folder]
            if isinstance(cached, Unreadable):
                raise cached
            return cached
        manifest_path = os.path.join(folder, "package.json")
        package: OwningPackage | None
        try:
            manifest = read_json_object(manifest_path, MAX_MANIFEST_BYTES)
        except Missing:
            package = None
        except Unreadable as problem:
            self._npm_packages[folder] = problem
            raise
        else:
            name = manifest.get("name")
            if not isinstance(name, str) or npm_spec_name(name) is None or "@" in name[1:]:
                name = _folder_package_name(folder)
            version = manifest.get("version")
            package = OwningPackage(
                "npm",
                name.lower(),
                version[:64] if isinstance(version, str) else None,
                folder,
            )
        self._npm_packages[folder] = package
        return package

    def _node_packages(self, found: Ownership, path: str) -> bool:
        """Add the node_modules packages a file sits in, innermost first; True if any."""
        parts = path.replace("\\", "/").split("/")
        folders: list[str] = []
        for index, part in enumerate(parts[:-1]):
            if part != "node_modules" or index + 1 >= len(parts) - 1:
                continue
            end = index + 2
            if _SCOPED.match(parts[index + 1]) and index + 2 < len(parts) - 1:
                end = index + 3
            if not parts[index + 1].startswith("."):
                folders.append("/".join(parts[:end]))
        if not folders:
            return False
        for folder in reversed(folders[-8:]):  # a bound on nesting
            try:
                package = self._npm_package(folder)
            except Unreadable as problem:
                found.problems.append(problem)
                continue
            if package is not None:
                found.packages.append(package)
        outermost = path[: path.replace("\\", "/").find("/node_modules/") + len("/node_modules")]
        self._add_environment(found, PackageEnvironment("npm", outermost, _npm_kind(outermost)))
        return True

    def _project_package(self, found: Ownership, path: str) -> None:
        """For a script outside node_modules: the project (package.json above it), if any."""
        folder = os.path.dirname(path)
        visited: list[str] = []
        project: str | None = None
        for _ in range(MAX_LEVELS):
            if folder in self._projects:
                project = self._projects[folder]
                break
            visited.append(folder)
            if _is_file(os.path.join(folder, "package.json")):
                project = folder
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        for seen in visited:
            self._projects[seen] = project
        if project is None:
            return
        try:
            package = self._npm_package(project)
        except Unreadable as problem:
            found.problems.append(problem)
            package = None
        if package is not None:
            found.packages.append(package)
        modules = os.path.join(project, "node_modules")
        if _is_dir(modules):
            self._add_environment(found, PackageEnvironment("npm", modules, "project"))

    # -- Python ----------------------------------------------------------------------------

    def _python_process(
        self,
        found: Ownership,
        pid: int | None,
        program: str,
        exe: str | None,
        args: list[str],
        cwd: str | None,
    ) -> None:
        interpreter = exe or program
        if os.path.isabs(program):
            interpreter = program
        elif "/" in program or "\\" in program:  # ./env/bin/python: relative to its folder
            try:
                interpreter = self._script_path(pid, program, cwd)
            except Unreadable as problem:
                found.problems.append(problem)
        prefix, environment, sites = self._prefix(interpreter)
        for site in sites:
            self._add_environment(found, PackageEnvironment("pypi", site, environment))
        options, script, rest = _options_then_positional(args, _PYTHON_VALUE_OPTIONS)
        if "-c" in options:
            return  # inline code
        module = None
        if options and options[-1] == "-m":
            module, script = script, None
        elif options and options[-1].startswith("-m") and not options[-1].startswith("--"):
            module = options[-1][2:]
            rest = [script, *rest] if script is not None else rest
            script = None
        if module is not None:
            owner = self._module_owner(found, sites, module.split(".", 1)[0])
            if owner is not None:
                found.packages.append(owner)
                if owner.name.lower() == "pipx":
                    self._runner(found, "pipx-cli", rest)
            return
        if script is None:
            return
        path = self._script_path(pid, script, cwd)
        resolved = _resolve(path)
        found.script = resolved
        self._packaged_file(found, resolved, python=(prefix, sites))
        if found.packages and found.packages[0].name.lower() == "pipx":
            self._runner(found, "pipx-cli", rest)

    def _prefix(self, interpreter: str) -> tuple[str, str, list[str]]:
        """Return (sys.prefix, environment kind, site-packages folders) of an interpreter."""
        cached = self._prefixes.get(interpreter)
        if cached is not None:
            return cached
        bin_dir = os.path.dirname(interpreter)
        candidate = os.path.dirname(bin_dir)
        sites: list[str] = []
        cfg = os.path.join(candidate, "pyvenv.cfg")
        if _is_file(cfg):
            prefix = candidate
            environment = _python_kind(prefix)
            sites = _site_folders(prefix, interpreter)
            try:
                values = _parse_config_lines(read_bytes(cfg, MAX_CONFIG_BYTES))
            except Unreadable:
                values = {}
            if values.get("include-system-site-packages", "").lower() == "true" and values.get(
                "home"
            ):
                base = os.path.dirname(values["home"].rstrip("/\\"))
                sites += _site_folders(base, interpreter)
        else:
            try:
                real = _resolve(interpreter)
            except Unreadable:
                real = interpreter
            real_bin = os.path.dirname(real)
            # Windows installs keep python.exe beside Lib\; POSIX ones in <prefix>/bin.
            prefix = (
                real_bin if _is_dir(os.path.join(real_bin, "Lib")) else os.path.dirname(real_bin)
            )
            environment = _python_kind(prefix)
            sites = _site_folders(prefix, real)
        result = (prefix, environment, list(dict.fromkeys(sites)))
        self._prefixes[interpreter] = result
        return result

    def _site(self, path: str) -> _SitePackages | None:
        if path in self._sites:
            return self._sites[path]
        site: _SitePackages | None = None
        try:
            with os.scandir(path) as entries:
                dists = []
                for entry in entries:
                    found = _DIST_DIR.match(entry.name)
                    if found:
                        dists.append((entry.name, found["name"], found["version"]))
            site = _SitePackages(path, sorted(dists))
        except OSError:
            site = None
        self._sites[path] = site
        return site

    def _packaged_file(
        self,
        found: Ownership,
        path: str,
        *,
        python: tuple[str, list[str]] | None,
    ) -> None:
        """Add the package owning a file: in node_modules, site-packages or a venv's bin."""
        if "node_modules" in path and self._node_packages(found, path):
            return
        normalised = path.replace("\\", "/")
        for marker in ("/site-packages/", "/dist-packages/"):
            at = normalised.find(marker)
            if at >= 0:
                site_path = path[: at + len(marker) - 1]
                top = normalised[at + len(marker) :].split("/", 1)[0]
                owner = self._top_owner(found, site_path, _top_name(top))
                if owner is not None:
                    found.packages.append(owner)
                self._add_environment(
                    found,
                    PackageEnvironment("pypi", site_path, _python_kind(_site_prefix(site_path))),
                )
                return
        folder = os.path.dirname(path)
        if os.path.basename(folder) in ("bin", "Scripts"):
            prefix = os.path.dirname(folder)
            is_venv = _is_file(os.path.join(prefix, "pyvenv.cfg"))
            if python is not None and python[0] == prefix:
                sites = python[1]
            elif is_venv:
                sites = _site_folders(prefix, path)
                for site in sites:
                    self._add_environment(
                        found, PackageEnvironment("pypi", site, _python_kind(prefix))
                    )
            else:
                sites = []
            if sites:
                owner = self._script_owner(found, sites, os.path.basename(path), records=is_venv)
                if owner is not None:
                    found.packages.append(owner)
                    return
        if python is None and "node_modules" not in path:
            if path.endswith((".js", ".mjs", ".cjs", ".ts", ".mts")):
                self._project_package(found, path)

    def _script_owner(
        self, found: Ownership, sites: list[str], script: str, *, records: bool = True
    ) -> OwningPackage | None:
        """Return the distribution whose entry points (or RECORD) install ``script``.

        ``records`` False skips the RECORD search: in a system prefix (``/usr/bin``) most
        scripts come from the OS's own packages, which no RECORD lists.
        """
        name = script.lower()
        for suffix in (".exe", "-script.py", "-script.pyw", ".py"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        for site_path in sites:
            site = self._site(site_path)
            if site is None:
                continue
            scripts = self._entry_points(found, site)
            if name in scripts:
                return site.package(scripts[name])
        if not records:
            return None
        for site_path in sites:
            site = self._site(site_path)
            if site is None:
                continue
            index = self._from_records(found, site, lambda s: s.bins.get(name), ())
            if index is not None:
                return site.package(index)
        return None

    def _module_owner(self, found: Ownership, sites: list[str], top: str) -> OwningPackage | None:
        """Return the distribution of ``python -m <top>``: none for a standard-library module."""
        for site_path in sites:
            if not any(
                os.path.exists(os.path.join(site_path, candidate))
                for candidate in (top, f"{top}.py")
            ):
                continue  # not installed here (the standard library, or the current folder)
            owner = self._top_owner(found, site_path, top)
            if owner is not None:
                return owner
        return None

    def _top_owner(self, found: Ownership, site_path: str, top: str) -> OwningPackage | None:
        """Return the distribution that installed a top-level module or folder."""
        site = self._site(site_path)
        if site is None or not top or top.endswith((".dist-info", ".egg-info")):
            return None
        self._top_levels(found, site)
        key = top.lower()
        if key in site.tops:
            return site.package(site.tops[key])
        wanted = _normalise(top)
        # Read the most likely RECORDs first: distributions whose name resembles the module.
        likely = tuple(
            index
            for index, (_, name, _) in enumerate(site.dists)
            if wanted in _normalise(name) or _normalise(name) in wanted
        )
        index = self._from_records(found, site, lambda s: s.tops.get(key), likely)
        return site.package(index) if index is not None else None

    def _entry_points(self, found: Ownership, site: _SitePackages) -> dict[str, int]:
        if site.scripts is not None:
            return site.scripts
        scripts: dict[str, int] = {}
        for index, (folder, _, _) in enumerate(site.dists):
            path = os.path.join(site.path, folder, "entry_points.txt")
            try:
                raw = read_bytes(path, MAX_CONFIG_BYTES)
            except Missing:
                continue
            except Unreadable as problem:
                found.problems.append(problem)
                continue
            for script in _console_scripts(raw):
                scripts.setdefault(script, index)
        site.scripts = scripts
        return scripts

    def _top_levels(self, found: Ownership, site: _SitePackages) -> None:
        if site.top_levels_read:
            return
        site.top_levels_read = True
        for index, (folder, _, _) in enumerate(site.dists):
            path = os.path.join(site.path, folder, "top_level.txt")
            try:
                raw = read_bytes(path, MAX_CONFIG_BYTES)
            except Missing:
                continue
            except Unreadable as problem:
                found.problems.append(problem)
                continue
            for line in raw.decode("utf-8", errors="replace").splitlines():
                top = line.strip().replace("\\", "/").split("/", 1)[0].lower()
                if top:
                    site.tops.setdefault(top, index)

    def _from_records(
        self,
        found: Ownership,
        site: _SitePackages,
        lookup: Callable[[_SitePackages], int | None],
        first: tuple[int, ...],
    ) -> int | None:
        """Read RECORD files (likely ones first) until ``lookup(site)`` finds an owner."""
        hit = lookup(site)
        if hit is not None:
            return hit
        order = list(first) + [index for index in range(len(site.dists)) if index not in first]
        for index in order:
            if index in site.records_read:
                continue
            site.records_read.add(index)
            if self.record_budget <= 0:
                if not self._budget_reported:  # once per scan, not once per process
                    self._budget_reported = True
                    found.problems.append(
                        Unreadable(site.path, "RECORD reading budget of this scan spent")
                    )
                return None
            path = os.path.join(site.path, site.dists[index][0], "RECORD")
            try:
                for entry in self._record_entries(path):
                    _index_record_entry(site, entry, index)
            except Missing:
                continue
            except Unreadable as problem:
                found.problems.append(problem)
                continue
            hit = lookup(site)
            if hit is not None:
                return hit
        return None

    def _record_entries(self, path: str) -> Iterator[str]:
        """Yield the file paths a RECORD lists, reading at most MAX_RECORD_BYTES of it.

        Raises Missing, or Unreadable for a RECORD past its bound (what was read still counts).
        """
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise Missing(path, "missing") from exc
        except OSError as exc:
            raise Unreadable(path, f"unreadable: {exc.strerror}") from exc
        with open(descriptor, "rb", closefd=True) as handle:
            try:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    raise Unreadable(path, "not a regular file")
                tail = b""
                total = 0
                while True:
                    limit = min(_CHUNK, MAX_RECORD_BYTES - total, self.record_budget)
                    if limit <= 0:
                        raise Unreadable(
                            path, f"RECORD larger than {MAX_RECORD_BYTES} bytes; read no further"
                        )
                    chunk = handle.read(limit)
                    if not chunk:
                        break
                    total += len(chunk)
                    self.record_budget -= len(chunk)
                    lines = (tail + chunk).split(b"\n")
                    tail = lines.pop()
                    if len(tail) > _MAX_RECORD_LINE:
                        tail = b""  # no real path is that long: drop it rather than keep it
                    for line in lines:
                        if len(line) <= _MAX_RECORD_LINE:
                            yield _record_path(line)
                if tail:
                    yield _record_path(tail)
            except OSError as exc:
                raise Unreadable(path, f"unreadable: {exc.strerror}") from exc

    # -- environments ----------------------------------------------------------------------

    @staticmethod
    def _add_environment(found: Ownership, environment: PackageEnvironment) -> None:
        if environment not in found.environments:
            found.environments.append(environment)


def _record_path(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace").strip()
    if text.startswith('"'):
        return text[1:].split('"', 1)[0]
    return text.split(",", 1)[0]


def _index_record_entry(site: _SitePackages, entry: str, index: int) -> None:
    entry = entry.replace("\\", "/")
    if not entry:
        return
    if entry.startswith("../"):
        parts = entry.split("/")
        if len(parts) >= 2 and parts[-2] in ("bin", "Scripts"):
            base = parts[-1].lower()
            for suffix in (".exe", "-script.py"):
                base = base.removesuffix(suffix)
            site.bins.setdefault(base, index)
        return
    top = entry.split("/", 1)[0]
    if top.endswith((".dist-info", ".egg-info", ".data")) or top == "__pycache__":
        return
    site.tops.setdefault(_top_name(top).lower(), index)


def _top_name(top: str) -> str:
    """Return the module name of a site-packages entry (``x.py``, ``x.cpython-311.so``)."""
    for suffix in (".py", ".pyc", ".pyd", ".so", ".pth"):
        if top.endswith(suffix):
            top = top[: -len(suffix)]
            break
    return top.split(".", 1)[0] if "." in top and not top.startswith(".") else top


def _console_scripts(raw: bytes) -> list[str]:
    scripts: list[str] = []
    section = ""
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if section in ("console_scripts", "gui_scripts") and "=" in line:
            scripts.append(line.split("=", 1)[0].strip().lower())
    return scripts[:512]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "", name.lower())


def _folder_package_name(folder: str) -> str:
    parts = folder.replace("\\", "/").rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2].startswith("@"):
        return f"{parts[-2]}/{parts[-1]}".lower()
    return parts[-1].lower()


def _npm_kind(node_modules: str) -> str:
    normalised = node_modules.replace("\\", "/")
    if "/_npx/" in normalised:
        return "npx"
    if "/lib/node_modules" in normalised or normalised.endswith("/npm/node_modules"):
        return "global"
    if "/Cellar/" in normalised or "/.linuxbrew/" in normalised:
        return "homebrew"
    return "project"


def _python_kind(prefix: str) -> str:
    normalised = prefix.replace("\\", "/")
    if _is_file(os.path.join(prefix, "pipx_metadata.json")) or "/pipx/venvs/" in normalised:
        return "pipx"
    if _is_file(os.path.join(prefix, "uv-receipt.toml")):
        return "uv_tool"
    if _is_dir(os.path.join(prefix, "conda-meta")):
        return "conda"
    if "/Cellar/" in normalised or "/homebrew/" in normalised or "/.linuxbrew/" in normalised:
        return "homebrew"
    if _is_file(os.path.join(prefix, "pyvenv.cfg")):
        return "virtualenv"
    return "system"


def _site_prefix(site_path: str) -> str:
    normalised = site_path.replace("\\", "/")
    for marker in ("/lib/python", "/lib64/python", "/Lib/site-packages", "/lib/site-packages"):
        at = normalised.find(marker)
        if at >= 0:
            return site_path[:at]
    return os.path.dirname(site_path)


def _site_folders(prefix: str, interpreter: str) -> list[str]:
    """Return the site-packages (and Debian dist-packages) folders of a prefix."""
    version = _PYTHON.match(os.path.basename(interpreter).lower().removesuffix(".exe"))
    wanted = version["version"] if version and version["version"] else None
    found: list[str] = []
    for lib in ("lib", "lib64"):
        base = os.path.join(prefix, lib)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            if not name.startswith("python3"):
                continue
            if wanted and "." in wanted and name not in (f"python{wanted}", "python3"):
                continue
            for leaf in ("site-packages", "dist-packages"):
                candidate = os.path.join(base, name, leaf)
                if _is_dir(candidate):
                    found.append(candidate)
    windows = os.path.join(prefix, "Lib", "site-packages")
    if _is_dir(windows):
        found.append(windows)
    if os.path.basename(prefix) == "usr":  # Debian: pip installs to /usr/local
        found += _site_folders(os.path.join(prefix, "local"), interpreter)
    unique: dict[str, str] = {}
    for folder in found:  # lib64 is often a symlink to lib: one environment, read once
        try:
            unique.setdefault(os.path.realpath(folder), folder)
        except (OSError, ValueError):
            continue
    return list(unique.values())


def owners_for(ctx: ScanContext) -> PackageOwners:
    """Return the scan's shared resolver (its caches serve the process and package scanners)."""
    return ctx.shared("package_owners", PackageOwners)


def is_live(ctx: ScanContext) -> bool:
    """Tell whether a scan looks at this running system (not a mounted image)."""
    return ctx.root == Path(ctx.root.anchor or "/")
