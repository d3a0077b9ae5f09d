"""Installed desktop applications.

macOS: ``.app`` bundles in /Applications and ~/Applications (``Info.plist`` via plistlib).
Linux: ``.desktop`` files (system, per-user, snap and Flatpak exports), installed snaps and
Flatpak apps. Windows: the uninstall registry keys (live, through winreg) and Start-menu
shortcuts plus per-user ``AppData/Local/Programs`` folders (live and in mounted images).
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
    Unreadable,
    exists,
    is_dir,
    layouts,
    list_dir,
    read_plist,
    read_text,
    subdirs,
    text,
    usable_home,
    walk_files,
)
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError

_DESKTOP_DIRS = (
    "usr/share/applications",
    "usr/local/share/applications",
    "var/lib/snapd/desktop/applications",
    "var/lib/flatpak/exports/share/applications",
)
_USER_DESKTOP_DIRS = (
    ".local/share/applications",
    ".local/share/flatpak/exports/share/applications",
)
_SNAP_SKIP = {"bin", "core", "core18", "core20", "core22", "core24", "snapd", "bare", "README"}
_SNAP_VERSION = re.compile(r"^version:\s*['\"]?([^'\"\n]+)", re.M)
_START_MENU = "Microsoft/Windows/Start Menu/Programs"
_UNINSTALL_KEYS = (
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)


class DesktopAppScanner:
    """Yield one observation per installed desktop application."""

    name = "apps"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("platform", "text", "The OS layout the app was found in."),
        EvidenceField("name", "text", "Application name."),
        EvidenceField("bundle_id", "text", "macOS bundle identifier."),
        EvidenceField("desktop_id", "text", "Linux desktop file id, without .desktop."),
        EvidenceField("exe", "text", "Executable of a desktop entry's Exec line."),
        EvidenceField("version", "text", "Version the bundle, snap or registry states."),
        EvidenceField("publisher", "text", "Publisher in the Windows uninstall registry."),
        EvidenceField("path", "text", "Bundle, desktop file, install folder or shortcut."),
        EvidenceField(
            "source",
            "text",
            "Where it was found: desktop, snap, flatpak, opt, appimage, uninstall_registry, "
            "start_menu, user_programs.",
        ),
        EvidenceField("scope", "text", "system, machine or user."),
    )

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        wanted = layouts(ctx)
        homes: list[LocalUser] = []
        for user in ctx.users:
            try:
                if usable_home(user.home):
                    homes.append(user)
            except Unreadable as problem:
                yield problem.to_error(self.name)
        if "darwin" in wanted:
            yield from self._mac_folder(ctx.path("Applications"), None)
            for user in homes:
                yield from self._mac_folder(user.home / "Applications", user)
        if "linux" in wanted:
            for rel in _DESKTOP_DIRS:
                yield from self._desktop_dir(ctx.path(rel), None)
            for user in homes:
                for rel in _USER_DESKTOP_DIRS:
                    yield from self._desktop_dir(user.home / rel, user)
            yield from self._snaps(ctx)
            yield from self._opt(ctx.path("opt"))
            for user in homes:
                for rel in ("Applications", "Downloads", ".local/bin", "bin", "AppImages"):
                    yield from self._appimages(user.home / rel, user)
            yield from self._flatpaks(ctx.path("var/lib/flatpak/app"), None)
            for user in homes:
                yield from self._flatpaks(user.home / ".local/share/flatpak/app", user)
        if "windows" in wanted:
            if ctx.root == Path("/") and ctx.platform == "windows":
                yield from self._uninstall_registry()
            yield from self._start_menu(ctx.path("ProgramData", _START_MENU), None)
            for user in homes:
                yield from self._start_menu(user.home / "AppData/Roaming" / _START_MENU, user)
                yield from self._user_programs(user)

    # -- macOS ---------------------------------------------------------------------------------

    def _mac_folder(self, folder: Path, user: LocalUser | None) -> Iterator[ScanItem]:
        if not is_dir(folder):
            return
        try:
            entries = list_dir(folder)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.name.endswith(".app"):
                yield from self._bundle(path, user)
            elif is_dir(path) and not entry.name.startswith("."):  # e.g. /Applications/Utilities
                try:
                    inner = [p for p in subdirs(path) if p.name.endswith(".app")]
                except Unreadable:
                    continue
                for bundle in inner:
                    yield from self._bundle(bundle, user)

    def _bundle(self, bundle: Path, user: LocalUser | None) -> Iterator[ScanItem]:
        plist_path = bundle / "Contents" / "Info.plist"
        if not exists(plist_path):
            return
        try:
            info: Any = read_plist(plist_path, MAX_SMALL_BYTES * 4)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        if not isinstance(info, dict):
            return
        bundle_id = text(info.get("CFBundleIdentifier"), 256)
        if not bundle_id:
            return
        name = text(info.get("CFBundleDisplayName"), 256) or text(info.get("CFBundleName"), 256)
        yield Observation(
            kind=FindingKind.APP,
            indicator_kind=IndicatorKind.BUNDLE_ID,
            indicator=bundle_id,
            user=user.name if user else None,
            evidence={
                "platform": "darwin",
                "name": name or bundle.stem,
                "bundle_id": bundle_id,
                "version": text(info.get("CFBundleShortVersionString"), 64)
                or text(info.get("CFBundleVersion"), 64),
                "path": str(bundle),
                "scope": "user" if user else "system",
            },
            hints={"name": name or bundle.stem, "exe": text(info.get("CFBundleExecutable"))},
        )

    # -- Linux ---------------------------------------------------------------------------------

    def _desktop_dir(self, folder: Path, user: LocalUser | None) -> Iterator[ScanItem]:
        if not is_dir(folder):
            return
        try:
            entries = list_dir(folder)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for entry in entries:
            if not entry.name.endswith(".desktop"):
                continue
            path = Path(entry.path)
            try:
                parsed = _desktop_entry(path)
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            if parsed is None:
                continue
            name, exe = parsed
            source = (
                "snap"
                if "snapd" in str(folder)
                else "flatpak"
                if "flatpak" in str(folder)
                else "desktop"
            )
            yield Observation(
                kind=FindingKind.APP,
                indicator_kind=IndicatorKind.DESKTOP_ENTRY,
                indicator=entry.name,  # the desktop file id, ".desktop" included
                user=user.name if user else None,
                evidence={
                    "platform": "linux",
                    "name": name,
                    "desktop_id": entry.name[: -len(".desktop")],
                    "exe": exe,
                    "path": str(path),
                    "source": source,
                    "scope": "user" if user else "system",
                },
                hints={"name": name, "exe": exe},
            )

    def _opt(self, folder: Path) -> Iterator[ScanItem]:
        """Vendor installs in /opt (Claude, Cursor, LM Studio .deb packages land there)."""
        if not is_dir(folder):
            return
        try:
            installs = subdirs(folder)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for install in installs:
            yield Observation(
                kind=FindingKind.APP,
                indicator_kind=IndicatorKind.INSTALL_PATH,
                indicator=str(install),
                evidence={
                    "platform": "linux",
                    "name": install.name,
                    "path": str(install),
                    "source": "opt",
                    "scope": "system",
                },
                hints={"name": install.name},
            )

    def _appimages(self, folder: Path, user: LocalUser) -> Iterator[ScanItem]:
        """AppImages (how LM Studio, Jan, Cursor and others ship for Linux), by name only."""
        if not is_dir(folder):
            return
        try:
            entries = list_dir(folder)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for entry in entries:
            if not entry.name.lower().endswith(".appimage"):
                continue
            yield Observation(
                kind=FindingKind.APP,
                indicator_kind=IndicatorKind.INSTALL_PATH,
                indicator=entry.path,
                user=user.name,
                evidence={
                    "platform": "linux",
                    "name": entry.name[: -len(".AppImage")],
                    "path": entry.path,
                    "source": "appimage",
                    "scope": "user",
                },
                hints={"name": entry.name[: -len(".AppImage")]},
            )

    def _snaps(self, ctx: ScanContext) -> Iterator[ScanItem]:
        snap_root = ctx.path("snap")
        if not is_dir(snap_root):
            return
        try:
            snaps = subdirs(snap_root)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for snap in snaps:
            if snap.name in _SNAP_SKIP or snap.name.startswith("core"):
                continue
            version: str | None = None
            meta = snap / "current" / "meta" / "snap.yaml"
            if exists(meta):
                try:
                    found = _SNAP_VERSION.search(read_text(meta))
                    version = found.group(1).strip()[:64] if found else None
                except Unreadable as problem:
                    yield problem.to_error(self.name)
            yield Observation(
                kind=FindingKind.APP,
                indicator_kind=IndicatorKind.SNAP,
                indicator=snap.name,
                evidence={
                    "platform": "linux",
                    "name": snap.name,
                    "version": version,
                    "path": str(snap),
                    "source": "snap",
                    "scope": "system",
                },
                hints={"name": snap.name},
            )

    def _flatpaks(self, folder: Path, user: LocalUser | None) -> Iterator[ScanItem]:
        if not is_dir(folder):
            return
        try:
            apps = subdirs(folder)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        for app in apps:
            yield Observation(
                kind=FindingKind.APP,
                indicator_kind=IndicatorKind.FLATPAK,
                indicator=app.name,
                user=user.name if user else None,
                evidence={
                    "platform": "linux",
                    "name": app.name,
                    "path": str(app),
                    "source": "flatpak",
                    "scope": "user" if user else "system",
                },
                hints={"name": app.name},
            )

    # -- Windows -------------------------------------------------------------------------------

    def _uninstall_registry(self) -> Iterator[ScanItem]:
        """Read the uninstall keys of HKLM and HKCU (Windows only)."""
        try:
            # Imported by name: typeshed hides winreg's contents from mypy on other OSes.
            winreg: Any = importlib.import_module("winreg")
        except ImportError:
            return
        hives: list[tuple[Any, str]] = [
            (winreg.HKEY_LOCAL_MACHINE, "machine"),
            (winreg.HKEY_CURRENT_USER, "user"),
        ]
        for hive, scope in hives:
            for key_path in _UNINSTALL_KEYS:
                try:
                    key = winreg.OpenKey(hive, key_path)
                except OSError:
                    continue
                with key:
                    index = 0
                    while True:
                        try:
                            sub_name = winreg.EnumKey(key, index)
                        except OSError:
                            break
                        index += 1
                        values: dict[str, EvidenceValue] = {}
                        try:
                            with winreg.OpenKey(key, sub_name) as sub:
                                for value_name in (
                                    "DisplayName",
                                    "DisplayVersion",
                                    "Publisher",
                                    "InstallLocation",
                                ):
                                    try:
                                        value, _kind = winreg.QueryValueEx(sub, value_name)
                                    except OSError:
                                        continue
                                    values[value_name] = str(value)[:512]
                        except OSError as exc:
                            yield ScannerError(
                                scanner=self.name, message=str(exc), path=f"{key_path}\\{sub_name}"
                            )
                            continue
                        display = values.get("DisplayName")
                        if not isinstance(display, str) or not display:
                            continue
                        yield Observation(
                            kind=FindingKind.APP,
                            indicator_kind=IndicatorKind.WINDOWS_APP,
                            indicator=display,
                            evidence={
                                "platform": "windows",
                                "name": display,
                                "version": values.get("DisplayVersion"),
                                "publisher": values.get("Publisher"),
                                "path": values.get("InstallLocation"),
                                "source": "uninstall_registry",
                                "scope": scope,
                            },
                            hints={"name": display},
                        )

    def _start_menu(self, folder: Path, user: LocalUser | None) -> Iterator[ScanItem]:
        if not is_dir(folder):
            return
        try:
            for path, _info in walk_files(folder, max_depth=3, max_entries=5000):
                if path.suffix.lower() not in (".lnk", ".url"):
                    continue
                yield Observation(
                    kind=FindingKind.APP,
                    indicator_kind=IndicatorKind.WINDOWS_APP,
                    indicator=path.stem,
                    user=user.name if user else None,
                    evidence={
                        "platform": "windows",
                        "name": path.stem,
                        "path": str(path),
                        "source": "start_menu",
                        "scope": "user" if user else "system",
                    },
                    hints={"name": path.stem},
                )
        except Unreadable as problem:
            yield problem.to_error(self.name)

    def _user_programs(self, user: LocalUser) -> Iterator[ScanItem]:
        """Per-user installs (Cursor, Claude, ...) live in AppData/Local/Programs and the like."""
        for rel in ("AppData/Local/Programs", "AppData/Local"):
            folder = user.home / rel
            if not is_dir(folder):
                continue
            try:
                programs = subdirs(folder)
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for program in programs:
                if rel == "AppData/Local" and not exists(program / "Update.exe"):
                    continue  # only Squirrel-installed apps (they carry Update.exe) count here
                yield Observation(
                    kind=FindingKind.APP,
                    indicator_kind=IndicatorKind.INSTALL_PATH,
                    indicator=str(program),
                    user=user.name,
                    evidence={
                        "platform": "windows",
                        "name": program.name,
                        "path": str(program),
                        "source": "user_programs",
                        "scope": "user",
                    },
                    hints={"name": program.name},
                )


def _desktop_entry(path: Path) -> tuple[str, str | None] | None:
    """Return (Name, executable basename) of an application .desktop file, or None."""
    section: str | None = None
    values: dict[str, str] = {}
    for raw in read_text(path, MAX_SMALL_BYTES).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section is None:
            raise Unreadable(path, "malformed .desktop file: a key before any [section]")
        if section == "Desktop Entry" and "=" in line:
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), value.strip())  # "Name[fr]" stays a separate key
    if section is None or ("Name" not in values and "Exec" not in values):
        return None
    if values.get("Type", "Application") != "Application":
        return None
    name = values.get("Name", path.stem)[:256]
    exec_line = values.get("Exec", "")
    exe: str | None = None
    if exec_line:
        parts = exec_line.split()
        first = parts[0].strip("\"'")
        if first == "env":  # "env VAR=x program %U"
            rest = [part for part in parts[1:] if "=" not in part]
            first = rest[0].strip("\"'") if rest else ""
        exe = first.rsplit("/", 1)[-1][:256] or None
    return name, exe
