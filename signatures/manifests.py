"""What an extension's manifest tells the heuristics: the hints built from its fields.

One owner for the agent's scanners and ``shadowmap signatures match``: a browser extension's
``manifest.json`` (with ``__MSG_*__`` values resolved through ``_locales``), a VS Code
extension's ``package.json`` and a JetBrains ``plugin.xml``'s parsed fields all become the
same hint mapping here, so the command gives the verdict the agent would. Reading the files
stays with the caller (the agent reads with size caps and records unreadable files as scanner
errors); this module only turns what was read into hints.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from xml.etree import ElementTree

from signatures.errors import ManifestError

LOCALE_FALLBACKS = ("en", "en_US", "en_GB")
# A _locales folder name (en, en_US, es_419, zh_Hant...): a manifest's default_locale is read
# as a path component only when it is one, never with a NUL, a separator or "..".
LOCALE_NAME = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,2}")
MAX_LIST = 256
# Reads ``_locales/<locale>/messages.json`` of one extension; None when there is none.
MessagesReader = Callable[[str], str | None]
_DECODER = json.JSONDecoder()
_TAG = re.compile(r"<[^>]*>")


def string_list(value: object, limit: int = MAX_LIST) -> list[str]:
    """Return the string items of a JSON list (other items dropped), clipped."""
    if not isinstance(value, list):
        return []
    return [item[:1024] for item in value if isinstance(item, str)][:limit]


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def api_permissions(value: object) -> list[str]:
    """Return permission names; object entries ({"fileSystem": ["write"]}) give their keys."""
    if not isinstance(value, list):
        return []
    names: list[str] = []
    for item in value:
        if isinstance(item, str):
            names.append(item[:1024])
        elif isinstance(item, dict):
            names += [str(key)[:1024] for key in item]
    return names[:MAX_LIST]


def host_permissions(manifest: Mapping[str, Any]) -> list[str]:
    """Return MV3 host_permissions, plus MV2 URL patterns kept in ``permissions``."""
    hosts = string_list(manifest.get("host_permissions"))
    hosts += [
        p for p in string_list(manifest.get("permissions")) if "://" in p or p == "<all_urls>"
    ]
    hosts += string_list(manifest.get("optional_host_permissions"))
    return list(dict.fromkeys(hosts))[:MAX_LIST]


def content_script_matches(manifest: Mapping[str, Any]) -> list[str]:
    """Return every ``matches`` pattern of the manifest's content scripts."""
    scripts = manifest.get("content_scripts")
    matches: list[str] = []
    if isinstance(scripts, list):
        for script in scripts:
            if isinstance(script, dict):
                matches += string_list(script.get("matches"))
    return list(dict.fromkeys(matches))[:MAX_LIST]


def localised(
    manifest: Mapping[str, Any], field: str, read_messages: MessagesReader | None, limit: int = 256
) -> str | None:
    """Return a manifest value, a ``__MSG_name__`` resolved from the extension's ``_locales``."""
    value = manifest.get(field)
    if not isinstance(value, str):
        return None
    if not (value.startswith("__MSG_") and value.endswith("__")) or read_messages is None:
        return value[:limit]
    message = value[6:-2].lower()
    locales: list[str] = []
    default = manifest.get("default_locale")
    if isinstance(default, str) and LOCALE_NAME.fullmatch(default):
        locales.append(default)
    locales += [loc for loc in LOCALE_FALLBACKS if loc not in locales]
    for locale in locales:
        raw = read_messages(locale)
        if raw is None:
            continue
        resolved = message_of(raw, message)
        if resolved is not None:
            return resolved[:limit]
    return value[:limit]


def message_of(raw: str, name: str) -> str | None:
    """Return ``<name>.message`` from a messages.json text, matching the name case-insensitively.

    Decodes only the one entry (messages files of big extensions run to hundreds of KB); falls
    back to parsing the whole file when the quick look finds nothing usable.
    """
    found = re.search(rf'"(?i:{re.escape(name)})"\s*:\s*(?={{)', raw)
    if found is not None:
        try:
            entry, _end = _DECODER.raw_decode(raw, found.end())
        except ValueError:
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get("message"), str):
            return str(entry["message"])
    try:
        messages = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(messages, dict):
        return None
    for key, item in messages.items():
        if key.lower() == name and isinstance(item, dict) and isinstance(item.get("message"), str):
            return str(item["message"])
    return None


def browser_extension_hints(
    manifest: Mapping[str, Any], read_messages: MessagesReader | None
) -> dict[str, object]:
    """Return the heuristics' hints for a Chromium-family extension's manifest."""
    return {
        "name": localised(manifest, "name", read_messages),
        "short_name": localised(manifest, "short_name", read_messages),
        "description": localised(manifest, "description", read_messages, 1024),
        "homepage_url": _text(manifest.get("homepage_url"), 1024),
        "permissions": [
            p
            for p in api_permissions(manifest.get("permissions"))
            if "://" not in p and p != "<all_urls>"
        ],
        "host_permissions": host_permissions(manifest),
        "content_script_matches": content_script_matches(manifest),
    }


def firefox_addon_hints(addon: Mapping[str, Any]) -> dict[str, object]:
    """Return the hints for a Firefox add-on as ``extensions.json`` records it."""
    locale = addon.get("defaultLocale")
    locale = locale if isinstance(locale, dict) else {}
    perms = addon.get("userPermissions")
    perms = perms if isinstance(perms, dict) else {}
    return {
        "name": _text(locale.get("name"), 256),
        "description": _text(locale.get("description"), 1024),
        "homepage_url": _text(locale.get("homepageURL"), 1024),
        "permissions": string_list(perms.get("permissions")),
        "host_permissions": string_list(perms.get("origins")),
        "content_script_matches": [],
    }


def vscode_extension_hints(
    package: Mapping[str, Any], nls: Mapping[str, Any] | None = None
) -> dict[str, object]:
    """Return the hints for a VS Code-family extension's ``package.json``.

    ``nls`` is its ``package.nls.json``: a ``%key%`` display name or description is looked up
    there, as VS Code does.
    """
    names: list[str] = []
    for key in ("dependencies", "optionalDependencies"):
        deps = package.get(key)
        if isinstance(deps, dict):
            names += [str(name)[:214] for name in deps]
    contributes = package.get("contributes")
    return {
        "name": _text(_nls(package.get("displayName"), nls), 256)
        or _text(package.get("name"), 256),
        "description": _text(_nls(package.get("description"), nls), 1024),
        "dependencies": list(dict.fromkeys(names))[:128],
        "extension_dependencies": string_list(package.get("extensionDependencies"), 64)
        + string_list(package.get("extensionPack"), 64),
        "categories": string_list(package.get("categories"), 32),
        "keywords": string_list(package.get("keywords"), 64),
        "contributes": sorted(str(key) for key in contributes)[:64]
        if isinstance(contributes, dict)
        else [],
    }


def _nls(value: object, nls: Mapping[str, Any] | None) -> object:
    """Resolve a ``%key%`` package.json value through ``package.nls.json``."""
    if not (isinstance(value, str) and len(value) > 2 and value[0] == value[-1] == "%"):
        return value
    if nls is None:
        return value
    resolved = nls.get(value[1:-1])
    if isinstance(resolved, dict):  # {"message": ..., "comment": [...]}
        resolved = resolved.get("message")
    return resolved if isinstance(resolved, str) else value


def jetbrains_plugin_hints(info: Mapping[str, Any]) -> dict[str, object]:
    """Return the hints for a JetBrains plugin from its parsed ``plugin.xml`` fields."""
    return {
        "name": _text(info.get("name"), 256),
        "description": _text(info.get("description"), 1024),
        "plugin_dependencies": string_list(info.get("depends"), 64),
        "extension_namespaces": string_list(info.get("extension_namespaces"), 64),
    }


def parse_plugin_xml(raw: bytes) -> dict[str, Any]:
    """Return id, name, version, vendor, description, the plugins it depends on (not the
    optional ones) and the extension namespaces it extends, from a ``plugin.xml``.

    Raises ManifestError for a DTD (refused: entity expansion) or malformed XML.
    """
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ManifestError("plugin.xml declares a DTD; refused")
    try:
        root = ElementTree.fromstring(raw)  # noqa: S314 - DTDs refused above, size capped by caller
    except ElementTree.ParseError as exc:
        raise ManifestError(f"malformed plugin.xml: {exc}") from exc
    info: dict[str, Any] = {}
    for tag in ("id", "name", "version", "vendor"):
        element = root.find(tag)
        if element is not None and element.text:
            info[tag] = element.text.strip()[:256]
    element = root.find("description")
    if element is not None:  # HTML in CDATA: the words, without the markup
        described = _TAG.sub(" ", "".join(element.itertext()))
        info["description"] = " ".join(html.unescape(described).split())[:1024]
    depends = [
        (item.text or "").strip()[:256]
        for item in root.iter("depends")
        # an optional dependency only adds a feature when that plugin is there
        if (item.text or "").strip() and item.get("optional") != "true"
    ]
    # <dependencies><plugin id="..."/></dependencies> of the 2024.2+ descriptors
    depends += [str(item.get("id"))[:256] for item in root.iter("plugin") if item.get("id")]
    info["depends"] = list(dict.fromkeys(depends))[:64]
    info["extension_namespaces"] = list(
        dict.fromkeys(
            str(item.get("defaultExtensionNs"))[:256]
            for item in root.iter("extensions")
            if item.get("defaultExtensionNs")
        )
    )[:64]
    return info
