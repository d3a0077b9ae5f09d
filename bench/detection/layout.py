"""Lay labelled extensions out as an endpoint holds them: real browser profiles and IDE folders.

Browser extensions go into a Chromium-family profile of the browser their store serves
(``Extensions/<id>/<version>/manifest.json`` plus ``Secure Preferences``), Firefox add-ons into
a Firefox profile's ``extensions.json``. VS Code extensions become
``~/.vscode/extensions/<id>-<version>/package.json`` (with ``package.nls.json``) listed in
``extensions.json``; JetBrains plugins a jar holding ``META-INF/plugin.xml``. Every manifest
carries only what the labelled row records.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from agent.scanners.base import LocalUser
from bench.detection.labelled import Item

# Which profile each store's extensions are installed in (Linux layout).
_PROFILE_OF = {
    "chrome": ".config/google-chrome/Default",
    "edge": ".config/microsoft-edge/Default",
}
_FIREFOX_PROFILE = ".mozilla/firefox/bench.default-release"
_VSCODE = ".vscode/extensions"
_JETBRAINS = ".local/share/JetBrains/IntelliJIdea2025.2/plugins"
VERSION = "1.0.0"


def _write_json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def extension_folder(home: Path, item: Item) -> Path:
    """Return where a labelled Chromium-family extension is unpacked in its browser's profile."""
    store = item.fields.get("store", "chrome")
    profile = home / _PROFILE_OF.get(store, _PROFILE_OF["chrome"])
    return profile / "Extensions" / item.key / f"{VERSION}_0"


def browser_manifest(item: Item) -> dict[str, Any]:
    """Return the manifest.json a labelled browser extension is installed with."""
    doc: dict[str, Any] = {
        "manifest_version": 3,
        "name": item.fields.get("name") or item.key,
        "version": VERSION,
    }
    for field in ("short_name", "description", "default_locale"):
        if item.fields.get(field):
            doc[field] = item.fields[field]
    if item.values("permissions"):
        doc["permissions"] = item.values("permissions")
    if item.values("host_permissions"):
        doc["host_permissions"] = item.values("host_permissions")
    if item.fields.get("homepage"):
        doc["homepage_url"] = item.fields["homepage"]
    return doc


def install_browser_extensions(home: Path, items: list[Item]) -> None:
    """Install each labelled browser extension in the profile of its store's browser."""
    settings: dict[str, dict[str, Any]] = {}
    addons: list[dict[str, Any]] = []
    for item in items:
        store = item.fields.get("store", "chrome")
        if store == "firefox":
            manifest = browser_manifest(item)
            addons.append(
                {
                    "id": item.key,
                    "type": "extension",
                    "version": VERSION,
                    "active": True,
                    "location": "app-profile",
                    "installTelemetryInfo": {"source": "amo"},
                    "defaultLocale": {
                        "name": manifest["name"],
                        "description": manifest.get("description"),
                        "homepageURL": manifest.get("homepage_url"),
                    },
                    "userPermissions": {
                        "permissions": manifest.get("permissions", []),
                        "origins": manifest.get("host_permissions", []),
                    },
                }
            )
            continue
        profile = home / _PROFILE_OF.get(store, _PROFILE_OF["chrome"])
        relative = f"{item.key}/{VERSION}_0"
        folder = profile / "Extensions" / relative
        _write_json(folder / "manifest.json", browser_manifest(item))
        locales = json.loads(item.fields["locales"]) if item.fields.get("locales") else {}
        for locale, messages in locales.items():
            _write_json(
                folder / "_locales" / locale / "messages.json",
                {key: {"message": message} for key, message in messages.items()},
            )
        settings.setdefault(str(profile), {})[item.key] = {
            "path": relative,
            "location": 1,
            "from_webstore": True,
            "state": 1,
        }
    for profile, table in settings.items():
        _write_json(Path(profile) / "Secure Preferences", {"extensions": {"settings": table}})
        _write_json(Path(profile) / "Preferences", {"profile": {"name": "Person 1"}})
    if addons:
        _write_json(home / _FIREFOX_PROFILE / "extensions.json", {"addons": addons})


def vscode_package(item: Item) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the package.json (and package.nls.json) a labelled VS Code extension carries."""
    publisher, _, name = item.key.partition(".")
    nls: dict[str, str] = json.loads(item.fields["nls"]) if item.fields.get("nls") else {}
    doc: dict[str, Any] = {
        "name": name,
        "publisher": publisher,
        "version": VERSION,
        "engines": {"vscode": "^1.90.0"},
    }
    display = item.fields.get("name", "")
    description = item.fields.get("description", "")
    # A %placeholder% the row resolved through package.nls.json stays a placeholder here.
    for key, value in (("displayName", display), ("description", description)):
        if value:
            doc[key] = value
    for key, value in nls.items():
        for field in ("displayName", "description"):
            if doc.get(field) == value:
                doc[field] = f"%{key}%"
    if item.values("categories"):
        doc["categories"] = item.values("categories")
    if item.values("contributes"):
        doc["contributes"] = {point: {} for point in item.values("contributes")}
    if item.values("dependencies"):
        doc["dependencies"] = dict.fromkeys(item.values("dependencies"), "*")
    if item.values("extension_dependencies"):
        doc["extensionDependencies"] = item.values("extension_dependencies")
    return doc, nls


def plugin_xml(item: Item) -> str:
    """Return the META-INF/plugin.xml a labelled JetBrains plugin carries."""
    parts = [
        "<idea-plugin>",
        f"  <id>{escape(item.key)}</id>",
        f"  <name>{escape(item.fields.get('name') or item.key)}</name>",
        f"  <version>{VERSION}</version>",
    ]
    if item.fields.get("description"):
        parts.append(f"  <description>{escape(item.fields['description'])}</description>")
    parts += [f"  <depends>{escape(plugin)}</depends>" for plugin in item.values("plugin_depends")]
    parts += [
        f'  <extensions defaultExtensionNs="{escape(namespace)}"/>'
        for namespace in item.values("extension_namespaces")
    ]
    parts.append("</idea-plugin>")
    return "\n".join(parts) + "\n"


def install_ide_extensions(home: Path, items: list[Item]) -> None:
    """Install each labelled IDE extension: VS Code folders and JetBrains plugin jars."""
    listing: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if item.fields.get("ide") == "jetbrains":
            lib = home / _JETBRAINS / f"plugin{index}" / "lib"
            lib.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(lib / f"plugin{index}.jar", "w") as jar:
                jar.writestr("META-INF/plugin.xml", plugin_xml(item))
            continue
        package, nls = vscode_package(item)
        folder = home / _VSCODE / f"{item.key.lower()}-{VERSION}"
        _write_json(folder / "package.json", package)
        if nls:
            _write_json(folder / "package.nls.json", nls)
        listing.append(
            {
                "identifier": {"id": item.key},
                "version": VERSION,
                "relativeLocation": folder.name,
                "metadata": {"source": "gallery"},
            }
        )
    _write_json(home / _VSCODE / "extensions.json", listing)


def make_user(root: Path, name: str = "bench") -> LocalUser:
    """Return a local user whose home is under ``root`` (a Linux layout)."""
    home = root / "home" / name
    home.mkdir(parents=True, exist_ok=True)
    return LocalUser(name=name, home=home, uid=1000)
