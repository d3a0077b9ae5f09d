"""IDE extensions: the VS Code family (VS Code, Insiders, VSCodium, Cursor, Windsurf, Trae,
remote servers) including named profiles, and JetBrains plugins.

VS Code: ``<ext dir>/extensions.json`` (or a directory scan when it is missing) minus the
entries in ``.obsolete``; named profiles from ``User/profiles/*/extensions.json`` with their
names from ``globalStorage/storage.json``; disabled extensions from ``state.vscdb``.
JetBrains: ``META-INF/plugin.xml`` inside each plugin's jars, ``disabled_plugins.txt``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.evidence import EvidenceField
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_MANIFEST_BYTES,
    Unreadable,
    exists,
    is_dir,
    layouts,
    mapping,
    read_json,
    read_json_object,
    read_text,
    rerooted,
    subdirs,
    text,
    unix_time,
    usable_home,
)
from signatures import (
    EvidenceValue,
    FindingKind,
    IndicatorKind,
    ManifestError,
    jetbrains_plugin_hints,
    parse_plugin_xml,
    vscode_extension_hints,
)

_MAC = "Library/Application Support"


@dataclass(frozen=True, slots=True)
class VsCodeEdition:
    """One VS Code-family product: its extension folders and its user-data folder name."""

    ide: str
    extension_dirs: tuple[str, ...]  # relative to home
    data_name: str | None  # "Code", "Cursor"... under ~/.config, Application Support, AppData


VSCODE_EDITIONS: tuple[VsCodeEdition, ...] = (
    VsCodeEdition("vscode", (".vscode/extensions", ".vscode-server/extensions"), "Code"),
    VsCodeEdition(
        "vscode_insiders",
        (".vscode-insiders/extensions", ".vscode-server-insiders/extensions"),
        "Code - Insiders",
    ),
    VsCodeEdition(
        "vscodium", (".vscode-oss/extensions", ".vscodium-server/extensions"), "VSCodium"
    ),
    VsCodeEdition("cursor", (".cursor/extensions", ".cursor-server/extensions"), "Cursor"),
    VsCodeEdition("windsurf", (".windsurf/extensions", ".windsurf-server/extensions"), "Windsurf"),
    VsCodeEdition("devin", (".devin/extensions",), None),
    VsCodeEdition("trae", (".trae/extensions", ".trae-server/extensions"), "Trae"),
    VsCodeEdition("positron", (".positron/extensions",), "Positron"),
    VsCodeEdition("kiro", (".kiro/extensions",), "Kiro"),
)
_DATA_ROOTS: Mapping[str, str] = {"linux": ".config", "darwin": _MAC, "windows": "AppData/Roaming"}
_JETBRAINS_ROOTS: Mapping[str, tuple[str, ...]] = {
    "linux": (".local/share/JetBrains", ".local/share/Google"),
    "darwin": (f"{_MAC}/JetBrains", f"{_MAC}/Google"),
    "windows": ("AppData/Roaming/JetBrains", "AppData/Roaming/Google"),
}
_JETBRAINS_CONFIG_ROOTS: Mapping[str, tuple[str, ...]] = {
    "linux": (".config/JetBrains", ".config/Google"),
    "darwin": (f"{_MAC}/JetBrains", f"{_MAC}/Google"),
    "windows": ("AppData/Roaming/JetBrains", "AppData/Roaming/Google"),
}
_PRODUCT_DIR = re.compile(r"^[A-Za-z][A-Za-z.]*\d{4}\.\d+$|^AndroidStudio")
_VSIX_DIR = re.compile(r"^(?P<id>[^.]+\.[^-]+(?:-[^0-9][^-]*)*)-(?P<version>\d[^-]*)(-.*)?$")
_MAX_PLUGIN_XML = 512 * 1024


class IdeExtensionScanner:
    """Yield one observation per IDE extension or plugin of every user."""

    name = "ide_extensions"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("ide", "text", "vscode, cursor, windsurf... or jetbrains."),
        EvidenceField("product", "text", "JetBrains product folder (PyCharm2025.1...)."),
        EvidenceField("profile", "text", "VS Code profile name (default for the main one)."),
        EvidenceField("extension_id", "text", "publisher.name or JetBrains plugin id."),
        EvidenceField("name", "text", "Display name."),
        EvidenceField("version", "text", "Installed version."),
        EvidenceField("publisher", "text", "Publisher or vendor."),
        EvidenceField("path", "text", "Extension or plugin folder."),
        EvidenceField("source", "text", "gallery or vsix (VS Code)."),
        EvidenceField("prerelease", "boolean", "A pre-release version (VS Code)."),
        EvidenceField("enabled", "boolean", "Whether it is enabled."),
        EvidenceField("install_time", "timestamp", "When it was installed (VS Code)."),
        EvidenceField("extensions_dir", "text", "The extensions folder it was listed in."),
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
            for edition in VSCODE_EDITIONS:
                yield from self._vscode(ctx, user, edition, wanted)
            for layout in sorted(wanted):
                yield from self._jetbrains(user, layout)

    # -- VS Code family ------------------------------------------------------------------------

    def _vscode(
        self, ctx: ScanContext, user: LocalUser, edition: VsCodeEdition, wanted: frozenset[str]
    ) -> Iterator[ScanItem]:
        disabled: set[str] = set()
        profile_names: dict[str, str] = {}
        data_dirs = [
            user.home / _DATA_ROOTS[layout] / edition.data_name / "User"
            for layout in sorted(wanted)
            if edition.data_name
        ]
        data_dirs = [path for path in data_dirs if is_dir(path)]
        for data_dir in data_dirs:
            disabled |= _vscode_disabled(data_dir / "globalStorage" / "state.vscdb")
            profile_names.update(_vscode_profile_names(data_dir / "globalStorage" / "storage.json"))
        for rel in edition.extension_dirs:
            folder = user.home / rel
            if is_dir(folder):
                yield from self._vscode_list(ctx, user, edition, folder, "default", disabled)
        for data_dir in data_dirs:
            try:
                profiles = subdirs(data_dir / "profiles")
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for profile in profiles:
                listing = profile / "extensions.json"
                if exists(listing):
                    name = profile_names.get(profile.name, profile.name)
                    yield from self._vscode_list(
                        ctx, user, edition, profile, name, disabled, listing_only=True
                    )

    def _vscode_list(
        self,
        ctx: ScanContext,
        user: LocalUser,
        edition: VsCodeEdition,
        folder: Path,
        profile: str,
        disabled: set[str],
        *,
        listing_only: bool = False,
    ) -> Iterator[ScanItem]:
        listing = folder / "extensions.json"
        obsolete: set[str] = set()
        if exists(folder / ".obsolete"):
            try:
                removed = read_json_object(folder / ".obsolete", MAX_MANIFEST_BYTES)
                obsolete = {str(key) for key, value in removed.items() if value}
            except Unreadable as problem:
                yield problem.to_error(self.name)
        entries: list[dict[str, Any]] = []
        if exists(listing):
            try:
                doc = read_json(listing)
            except Unreadable as problem:
                yield problem.to_error(self.name)
                doc = None
            if isinstance(doc, list):
                entries = [entry for entry in doc if isinstance(entry, dict)]
            elif doc is not None:
                yield Unreadable(listing, "malformed: not a list").to_error(self.name)
        elif not listing_only:
            try:
                entries = _scan_extension_dirs(folder)
            except Unreadable as problem:
                yield problem.to_error(self.name)
        for entry in entries:
            identifier = entry.get("identifier")
            ext_id = identifier.get("id") if isinstance(identifier, dict) else None
            if not isinstance(ext_id, str) or not ext_id:
                continue
            location = entry.get("location")
            raw_path = (
                location.get("path") or location.get("fsPath")
                if isinstance(location, dict)
                else location
                if isinstance(location, str)
                else None
            )
            path = rerooted(ctx, raw_path) if isinstance(raw_path, str) and raw_path else None
            rel = entry.get("relativeLocation")
            if path is None and isinstance(rel, str):
                path = folder / rel
            if path is not None and path.name in obsolete:
                continue
            metadata = mapping(entry.get("metadata"))
            package = _package_json(path) if path is not None else {}
            hints = vscode_extension_hints(package, _package_nls(path, package))
            installed = metadata.get("installedTimestamp")
            evidence: dict[str, EvidenceValue] = {
                "ide": edition.ide,
                "profile": profile,
                "extension_id": ext_id[:256],
                "name": text(hints["name"], 256),
                "version": text(entry.get("version"), 64) or text(package.get("version"), 64),
                "publisher": text(metadata.get("publisherDisplayName"), 256)
                or text(package.get("publisher"), 256),
                "path": str(path) if path is not None else None,
                "source": text(metadata.get("source"), 32),
                "prerelease": metadata.get("isPreReleaseVersion") is True,
                "enabled": ext_id.lower() not in disabled,
                "install_time": unix_time(installed / 1000)
                if isinstance(installed, int | float)
                else None,
                "extensions_dir": str(folder),
            }
            yield Observation(
                kind=FindingKind.IDE_EXTENSION,
                indicator_kind=IndicatorKind.IDE_EXTENSION,
                indicator=ext_id[:1024],
                user=user.name,
                evidence=evidence,
                hints=hints,
            )

    # -- JetBrains -----------------------------------------------------------------------------

    def _jetbrains(self, user: LocalUser, layout: str) -> Iterator[ScanItem]:
        for root_rel, config_rel in zip(
            _JETBRAINS_ROOTS[layout], _JETBRAINS_CONFIG_ROOTS[layout], strict=True
        ):
            try:
                products = [p for p in subdirs(user.home / root_rel) if _PRODUCT_DIR.match(p.name)]
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for product in products:
                plugins_dir = product / "plugins" if is_dir(product / "plugins") else product
                disabled = _jetbrains_disabled(user.home / config_rel / product.name)
                try:
                    plugins = subdirs(plugins_dir)
                except Unreadable as problem:
                    yield problem.to_error(self.name)
                    continue
                for plugin in plugins:
                    if not is_dir(plugin / "lib"):
                        continue
                    try:
                        info = _plugin_xml(plugin / "lib")
                    except Unreadable as problem:
                        yield problem.to_error(self.name)
                        continue
                    plugin_id = info.get("id") or info.get("name") or plugin.name
                    yield Observation(
                        kind=FindingKind.IDE_EXTENSION,
                        indicator_kind=IndicatorKind.IDE_EXTENSION,
                        indicator=plugin_id[:1024],
                        user=user.name,
                        evidence={
                            "ide": "jetbrains",
                            "product": product.name,
                            "extension_id": plugin_id[:256],
                            "name": info.get("name"),
                            "version": info.get("version"),
                            "publisher": info.get("vendor"),
                            "path": str(plugin),
                            "enabled": plugin_id not in disabled,
                        },
                        hints=jetbrains_plugin_hints(info),
                    )


def _scan_extension_dirs(folder: Path) -> list[dict[str, Any]]:
    """Build extensions.json-like entries from ``publisher.name-version`` directories."""
    entries: list[dict[str, Any]] = []
    for child in subdirs(folder):
        found = _VSIX_DIR.match(child.name)
        if found:
            entries.append(
                {
                    "identifier": {"id": found["id"]},
                    "version": found["version"],
                    "relativeLocation": child.name,
                }
            )
    return entries


def _package_json(path: Path) -> dict[str, Any]:
    try:
        return read_json_object(path / "package.json", MAX_MANIFEST_BYTES)
    except Unreadable:
        return {}


def _package_nls(path: Path | None, package: Mapping[str, Any]) -> dict[str, Any] | None:
    """Read ``package.nls.json`` when the display name or description is a ``%key%``."""
    wanted = any(
        isinstance(package.get(key), str) and str(package[key]).startswith("%")
        for key in ("displayName", "description")
    )
    if path is None or not wanted:
        return None
    try:
        return read_json_object(path / "package.nls.json", MAX_MANIFEST_BYTES)
    except Unreadable:
        return None


def _vscode_disabled(state_db: Path) -> set[str]:
    """Return the ids of globally disabled extensions, read-only from ``state.vscdb``."""
    if not state_db.is_file():
        return set()
    try:
        uri = state_db.resolve().as_uri() + "?mode=ro&immutable=1"
        with sqlite3.connect(uri, uri=True, timeout=0.5) as connection:
            row = connection.execute(
                "SELECT value FROM ItemTable WHERE key = 'extensionsIdentifiers/disabled'"
            ).fetchone()
    except (sqlite3.Error, OSError, ValueError):
        return set()
    if not row:
        return set()
    try:
        items = json.loads(row[0])
    except (ValueError, TypeError):
        return set()
    return (
        {
            item["id"].lower()
            for item in items
            if isinstance(item, dict) and isinstance(item.get("id"), str)
        }
        if isinstance(items, list)
        else set()
    )


def _vscode_profile_names(storage: Path) -> dict[str, str]:
    if not exists(storage):
        return {}
    try:
        doc = read_json_object(storage)
    except Unreadable:
        return {}
    names: dict[str, str] = {}
    profiles = doc.get("userDataProfiles")
    if isinstance(profiles, list):
        for profile in profiles:
            if isinstance(profile, dict) and isinstance(profile.get("name"), str):
                location = profile.get("location")
                key = location.rstrip("/").rsplit("/", 1)[-1] if isinstance(location, str) else None
                if key:
                    names[key] = profile["name"]
    return names


def _jetbrains_disabled(config_dir: Path) -> set[str]:
    listing = config_dir / "disabled_plugins.txt"
    if not exists(listing):
        return set()
    try:
        return {line.strip() for line in read_text(listing).splitlines() if line.strip()}
    except Unreadable:
        return set()


def _plugin_xml(lib: Path) -> dict[str, Any]:
    """Read id, name, version, vendor, description, the plugins it depends on and the
    extension namespaces it extends, from the jar holding ``META-INF/plugin.xml``."""
    jars = sorted(lib.glob("*.jar"))
    broken: Unreadable | None = None
    for jar in jars:
        if not jar.is_file():  # a FIFO or a dangling link: opening could block or fail
            continue
        try:
            with zipfile.ZipFile(jar) as archive:
                try:
                    member = archive.getinfo("META-INF/plugin.xml")
                except KeyError:
                    continue
                if member.file_size > _MAX_PLUGIN_XML:
                    raise Unreadable(jar, "plugin.xml too large")
                raw = archive.read(member)
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            broken = Unreadable(jar, f"unreadable jar: {exc}")
            continue  # another jar of the plugin may still hold plugin.xml
        try:
            return parse_plugin_xml(raw)
        except ManifestError as exc:
            raise Unreadable(jar, exc.reason) from exc
    if broken is not None:
        raise broken
    return {}
