"""Browser extensions of every Chromium-family browser and Firefox fork, for every local user.

Chromium: each browser's user-data directory per OS layout; profiles from ``Local State`` plus a
directory scan (or the base directory itself, as Opera keeps it); ``Preferences`` and
``Secure Preferences`` both optional and merged; the manifest read from the path the prefs
record (or the orphan ``Extensions/<id>/<version>`` directories). Firefox: ``profiles.ini`` plus
a directory scan, then ``extensions.json``.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.evidence import EvidenceField
from agent.scanners.accounts import EVIDENCE as ACCOUNT_EVIDENCE
from agent.scanners.accounts import (
    account_evidence,
    chromium_account_domain,
    firefox_account_domain,
)
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.files import (
    MAX_MANIFEST_BYTES,
    MAX_SMALL_BYTES,
    Missing,
    Unreadable,
    exists,
    is_dir,
    layouts,
    mapping,
    read_bytes,
    read_json_object,
    read_text,
    rerooted,
    string_list,
    subdirs,
    text,
    unix_time,
    usable_home,
    webkit_time,
)
from signatures import (
    EvidenceValue,
    FindingKind,
    IndicatorKind,
    MessagesReader,
    browser_extension_hints,
    firefox_addon_hints,
)

_APPDATA_LOCAL = "AppData/Local"
_APPDATA_ROAMING = "AppData/Roaming"
_MAC_SUPPORT = "Library/Application Support"


@dataclass(frozen=True, slots=True)
class BrowserDir:
    """Where one browser (and channel, and packaging) keeps its user data, per OS layout."""

    browser: str
    layout: str  # "linux" | "darwin" | "windows"
    rel: str  # relative to the user's home


def _dirs(browser: str, layout: str, *rels: str) -> list[BrowserDir]:
    return [BrowserDir(browser, layout, rel) for rel in rels]


def _chromium_dirs() -> tuple[BrowserDir, ...]:
    linux, mac, win = "linux", "darwin", "windows"
    found: list[BrowserDir] = []
    add = found.extend
    # Google Chrome and its channels.
    add(
        _dirs(
            "chrome",
            linux,
            ".config/google-chrome",
            ".var/app/com.google.Chrome/config/google-chrome",
        )
    )
    add(
        _dirs(
            "chrome_beta",
            linux,
            ".config/google-chrome-beta",
            ".var/app/com.google.ChromeBeta/config/google-chrome-beta",
        )
    )
    add(
        _dirs(
            "chrome_dev",
            linux,
            ".config/google-chrome-unstable",
            ".var/app/com.google.ChromeDev/config/google-chrome-unstable",
        )
    )
    add(_dirs("chrome_canary", linux, ".config/google-chrome-canary"))
    add(_dirs("chrome_for_testing", linux, ".config/google-chrome-for-testing"))
    add(_dirs("chrome", mac, f"{_MAC_SUPPORT}/Google/Chrome"))
    add(_dirs("chrome_beta", mac, f"{_MAC_SUPPORT}/Google/Chrome Beta"))
    add(_dirs("chrome_dev", mac, f"{_MAC_SUPPORT}/Google/Chrome Dev"))
    add(_dirs("chrome_canary", mac, f"{_MAC_SUPPORT}/Google/Chrome Canary"))
    add(_dirs("chrome_for_testing", mac, f"{_MAC_SUPPORT}/Google/Chrome for Testing"))
    add(_dirs("chrome", win, f"{_APPDATA_LOCAL}/Google/Chrome/User Data"))
    add(_dirs("chrome_beta", win, f"{_APPDATA_LOCAL}/Google/Chrome Beta/User Data"))
    add(_dirs("chrome_dev", win, f"{_APPDATA_LOCAL}/Google/Chrome Dev/User Data"))
    add(_dirs("chrome_canary", win, f"{_APPDATA_LOCAL}/Google/Chrome SxS/User Data"))
    add(_dirs("chrome_for_testing", win, f"{_APPDATA_LOCAL}/Google/Chrome for Testing/User Data"))
    # Chromium, including snap and Flatpak builds (and ungoogled-chromium's Flatpak).
    add(
        _dirs(
            "chromium",
            linux,
            ".config/chromium",
            "snap/chromium/common/chromium",
            ".var/app/org.chromium.Chromium/config/chromium",
            ".var/app/io.github.ungoogled_software.ungoogled_chromium/config/chromium",
        )
    )
    add(_dirs("chromium", mac, f"{_MAC_SUPPORT}/Chromium"))
    add(_dirs("chromium", win, f"{_APPDATA_LOCAL}/Chromium/User Data"))
    # Brave, including snap (osquery #7815) and Flatpak.
    for channel, suffix in (("brave", ""), ("brave_beta", "-Beta"), ("brave_nightly", "-Nightly")):
        add(
            _dirs(
                channel,
                linux,
                f".config/BraveSoftware/Brave-Browser{suffix}",
                f".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser{suffix}",
                f"snap/brave/current/.config/BraveSoftware/Brave-Browser{suffix}",
            )
        )
        add(_dirs(channel, mac, f"{_MAC_SUPPORT}/BraveSoftware/Brave-Browser{suffix}"))
        add(_dirs(channel, win, f"{_APPDATA_LOCAL}/BraveSoftware/Brave-Browser{suffix}/User Data"))
    add(_dirs("brave", win, f"{_APPDATA_ROAMING}/brave"))
    # Microsoft Edge.
    add(
        _dirs(
            "edge",
            linux,
            ".config/microsoft-edge",
            ".var/app/com.microsoft.Edge/config/microsoft-edge",
        )
    )
    add(_dirs("edge_beta", linux, ".config/microsoft-edge-beta"))
    add(_dirs("edge_dev", linux, ".config/microsoft-edge-dev"))
    for channel, suffix in (
        ("edge", ""),
        ("edge_beta", " Beta"),
        ("edge_dev", " Dev"),
        ("edge_canary", " Canary"),
    ):
        add(_dirs(channel, mac, f"{_MAC_SUPPORT}/Microsoft Edge{suffix}"))
    for channel, suffix in (
        ("edge", ""),
        ("edge_beta", " Beta"),
        ("edge_dev", " Dev"),
        ("edge_canary", " SxS"),
    ):
        add(_dirs(channel, win, f"{_APPDATA_LOCAL}/Microsoft/Edge{suffix}/User Data"))
    # Opera keeps its profile in the base directory itself.
    add(
        _dirs(
            "opera",
            linux,
            ".config/opera",
            ".config/opera-beta",
            ".config/opera-developer",
            "snap/opera/current/.config/opera",
        )
    )
    add(_dirs("opera", mac, f"{_MAC_SUPPORT}/com.operasoftware.Opera"))
    add(_dirs("opera_gx", mac, f"{_MAC_SUPPORT}/com.operasoftware.OperaGX"))
    add(_dirs("opera", win, f"{_APPDATA_ROAMING}/Opera Software/Opera Stable"))
    add(_dirs("opera_gx", win, f"{_APPDATA_ROAMING}/Opera Software/Opera GX Stable"))
    # Vivaldi, Yandex.
    add(
        _dirs(
            "vivaldi",
            linux,
            ".config/vivaldi",
            ".config/vivaldi-snapshot",
            ".var/app/com.vivaldi.Vivaldi/config/vivaldi",
        )
    )
    add(_dirs("vivaldi", mac, f"{_MAC_SUPPORT}/Vivaldi"))
    add(_dirs("vivaldi", win, f"{_APPDATA_LOCAL}/Vivaldi/User Data"))
    add(_dirs("yandex", linux, ".config/yandex-browser", ".config/yandex-browser-beta"))
    add(_dirs("yandex", mac, f"{_MAC_SUPPORT}/Yandex/YandexBrowser"))
    add(_dirs("yandex", win, f"{_APPDATA_LOCAL}/Yandex/YandexBrowser/User Data"))
    # AI-native and newer Chromium browsers.
    add(_dirs("arc", mac, f"{_MAC_SUPPORT}/Arc/User Data"))
    add(
        _dirs(
            "arc",
            win,
            f"{_APPDATA_LOCAL}/Packages/TheBrowserCompany.Arc_ttt1ap7aakyb4/"
            "LocalCache/Local/Arc/User Data",
        )
    )
    add(_dirs("dia", mac, f"{_MAC_SUPPORT}/Dia/User Data"))
    add(_dirs("comet", mac, f"{_MAC_SUPPORT}/Comet"))
    add(
        _dirs(
            "comet",
            win,
            f"{_APPDATA_LOCAL}/Perplexity/Comet/User Data",
            f"{_APPDATA_LOCAL}/Comet/User Data",
        )
    )
    add(_dirs("chatgpt_atlas", mac, f"{_MAC_SUPPORT}/ChatGPT", f"{_MAC_SUPPORT}/com.openai.atlas"))
    add(_dirs("chatgpt_atlas", win, f"{_APPDATA_LOCAL}/OpenAI/Atlas/User Data"))
    return tuple(found)


CHROMIUM_DIRS: tuple[BrowserDir, ...] = _chromium_dirs()

FIREFOX_DIRS: tuple[BrowserDir, ...] = (
    *_dirs(
        "firefox",
        "linux",
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
        ".config/mozilla/firefox",
    ),
    *_dirs("firefox", "darwin", f"{_MAC_SUPPORT}/Firefox"),
    *_dirs(
        "firefox",
        "windows",
        f"{_APPDATA_ROAMING}/Mozilla/Firefox",
        f"{_APPDATA_LOCAL}/Packages/Mozilla.Firefox_n80bbvh6b1yt2/LocalCache/Roaming/"
        "Mozilla/Firefox",
    ),
    *_dirs("librewolf", "linux", ".librewolf", ".var/app/io.gitlab.librewolf-community/.librewolf"),
    *_dirs("librewolf", "darwin", f"{_MAC_SUPPORT}/librewolf"),
    *_dirs("librewolf", "windows", f"{_APPDATA_ROAMING}/librewolf"),
    *_dirs("waterfox", "linux", ".waterfox"),
    *_dirs("waterfox", "darwin", f"{_MAC_SUPPORT}/Waterfox"),
    *_dirs("waterfox", "windows", f"{_APPDATA_ROAMING}/Waterfox"),
    *_dirs("floorp", "linux", ".floorp", ".var/app/one.ablaze.floorp/.floorp"),
    *_dirs("floorp", "darwin", f"{_MAC_SUPPORT}/Floorp"),
    *_dirs("floorp", "windows", f"{_APPDATA_ROAMING}/Floorp"),
    *_dirs("zen", "linux", ".zen", ".var/app/app.zen_browser.zen/.zen"),
    *_dirs("zen", "darwin", f"{_MAC_SUPPORT}/zen"),
    *_dirs("zen", "windows", f"{_APPDATA_ROAMING}/zen"),
    *_dirs("mullvad_browser", "linux", ".mullvad-browser"),
)

# Chromium's Manifest::Location enum (extensions/common/manifest.h).
_LOCATION_SOURCE: Mapping[int, str] = {
    1: "internal",
    2: "external",  # EXTERNAL_PREF: sideloaded through a preferences file
    3: "external",  # EXTERNAL_REGISTRY
    4: "unpacked",
    5: "built_in",  # COMPONENT
    6: "external",  # EXTERNAL_PREF_DOWNLOAD
    7: "policy",  # EXTERNAL_POLICY_DOWNLOAD
    8: "unpacked",  # COMMAND_LINE (--load-extension)
    9: "policy",  # EXTERNAL_POLICY
    10: "built_in",  # EXTERNAL_COMPONENT
}
# extensions/browser/disable_reason.h
_DISABLE_REASONS: Mapping[int, str] = {
    1: "user_action",
    2: "permissions_increase",
    4: "reload",
    8: "unsupported_requirement",
    16: "sideload_wipeout",
    256: "not_verified",
    512: "greylist",
    1024: "corrupted",
    2048: "remote_install",
    8192: "external_extension",
    16384: "update_required_by_policy",
    32768: "custodian_approval_required",
    65536: "blocked_by_policy",
    262144: "remotely_for_malware",
}
_PREF_FILES = ("Secure Preferences", "Preferences")
_SPECIAL_PROFILES = {"Guest Profile": "guest", "System Profile": "system"}
_RETRY_DELAY = 0.05


def extension_id_from_key(key: str) -> str | None:
    """Return the Chromium extension id a manifest ``key`` (base64 DER public key) gives."""
    try:
        der = base64.b64decode(key.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    if not der:
        return None
    digest = hashlib.sha256(der).hexdigest()[:32]
    return "".join(chr(ord("a") + int(char, 16)) for char in digest)


def enabled_state(entry: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Return (enabled, disable reasons) from ``state``, or ``disable_reasons`` (Chrome 136+)."""
    reasons_value = entry.get("disable_reasons")
    reasons: list[str] = []
    if isinstance(reasons_value, int) and not isinstance(reasons_value, bool):
        reasons = [name for bit, name in _DISABLE_REASONS.items() if reasons_value & bit]
        if reasons_value and not reasons:
            reasons = [f"reason_{reasons_value}"]
    elif isinstance(reasons_value, list):
        for item in reasons_value:
            if isinstance(item, int):
                reasons.append(_DISABLE_REASONS.get(item, f"reason_{item}"))
    state = entry.get("state")
    if isinstance(state, int) and not isinstance(state, bool):
        return state == 1, reasons
    return not reasons, reasons


def install_source(entry: Mapping[str, Any]) -> str:
    """Return how an extension came to be installed: web_store, policy, unpacked, ..."""
    location = entry.get("location")
    if entry.get("was_installed_by_default") is True:
        return "default"
    if entry.get("was_installed_by_oem") is True:
        return "oem"
    source = _LOCATION_SOURCE.get(location, "unknown") if isinstance(location, int) else "unknown"
    if source == "internal":
        return "web_store" if entry.get("from_webstore") is True else "user"
    return source


class BrowserExtensionScanner:
    """Yield one observation per browser extension of every profile of every user."""

    name = "browser_extensions"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("browser", "text", "Browser and channel (chrome, edge_beta, firefox...)."),
        EvidenceField("profile", "text", "Profile name."),
        EvidenceField("profile_dir", "text", "Profile folder name."),
        EvidenceField("profile_kind", "text", "user, guest or system (Chromium)."),
        EvidenceField("user_data_dir", "text", "The browser's user-data folder (Chromium)."),
        EvidenceField("extension_id", "text", "Store id or Firefox add-on id."),
        EvidenceField("name", "text", "Extension name, resolved from _locales."),
        EvidenceField("version", "text", "Extension version."),
        EvidenceField("manifest_version", "integer", "Manifest version (2 or 3)."),
        EvidenceField("path", "text", "Extension folder."),
        EvidenceField(
            "install_source",
            "text",
            "How it came: web_store, user, policy, unpacked, external, sideloaded, built_in, "
            "default, oem, orphaned.",
        ),
        EvidenceField(
            "location", "integer or text", "Chromium's location enum, or Firefox's location."
        ),
        EvidenceField("from_webstore", "boolean", "Chromium: installed from the web store."),
        EvidenceField("enabled", "boolean", "Whether the extension is enabled."),
        EvidenceField("referenced", "boolean", "Chromium: the preferences list it."),
        EvidenceField("install_time", "timestamp", "When it was installed."),
        EvidenceField("permissions", "text list", "API permissions."),
        EvidenceField("host_permissions", "text list", "Host permissions and origins."),
        EvidenceField("disable_reasons", "text list", "Chromium's named disable reasons."),
        EvidenceField(
            "manifest_key_id", "text", "Another id the manifest key gives (a copied store key)."
        ),
        EvidenceField("signed_state", "integer", "Firefox's signedState."),
        EvidenceField("foreign_install", "boolean", "Firefox: installed by another program."),
        *ACCOUNT_EVIDENCE,
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
            for base in CHROMIUM_DIRS:
                if base.layout in wanted:
                    yield from self._chromium_browser(ctx, user, base)
            for base in FIREFOX_DIRS:
                if base.layout in wanted:
                    yield from self._firefox_browser(ctx, user, base)

    # -- Chromium ------------------------------------------------------------------------------

    def _chromium_browser(
        self, ctx: ScanContext, user: LocalUser, base: BrowserDir
    ) -> Iterator[ScanItem]:
        root = user.home / base.rel
        if not is_dir(root):
            return
        try:
            local_state = read_json_object(root / "Local State")
        except Missing:
            local_state = {}
        except Unreadable as problem:
            yield problem.to_error(self.name)
            local_state = {}
        cache = mapping(mapping(local_state.get("profile")).get("info_cache"))
        names: dict[str, str] = {
            str(key): str(value.get("name", ""))
            for key, value in cache.items()
            if isinstance(value, dict)
        }
        profiles: dict[str, Path] = {}
        if any(exists(root / pref) for pref in _PREF_FILES):
            profiles["."] = root  # Opera and legacy Brave: the base is the profile
        else:
            for directory in names:
                if is_dir(root / directory):
                    profiles[directory] = root / directory
            try:
                for child in subdirs(root):
                    if any(exists(child / pref) for pref in _PREF_FILES):
                        profiles.setdefault(child.name, child)
            except Unreadable as problem:
                yield problem.to_error(self.name)
        for directory, path in sorted(profiles.items()):
            yield from self._chromium_profile(
                ctx, user, base, path, directory, names.get(directory)
            )

    def _chromium_profile(
        self,
        ctx: ScanContext,
        user: LocalUser,
        base: BrowserDir,
        profile: Path,
        directory: str,
        display_name: str | None,
    ) -> Iterator[ScanItem]:
        settings: dict[str, dict[str, Any]] = {}
        profile_name = display_name or None
        account: str | None = None
        for pref_name in reversed(_PREF_FILES):  # Secure Preferences wins where both say
            pref_path = profile / pref_name
            try:
                prefs = _read_prefs(pref_path)
            except Missing:
                continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            account = account or chromium_account_domain(prefs)
            if profile_name is None:
                prof = prefs.get("profile")
                if isinstance(prof, dict) and isinstance(prof.get("name"), str):
                    profile_name = prof["name"]
            extensions = prefs.get("extensions")
            if not isinstance(extensions, dict):
                continue
            for key in ("settings", "opsettings"):
                table = extensions.get(key)
                if not isinstance(table, dict):
                    continue
                for ext_id, entry in table.items():
                    if isinstance(entry, dict):
                        settings.setdefault(str(ext_id), {}).update(entry)
        kind = _SPECIAL_PROFILES.get(directory, "user")
        common: dict[str, EvidenceValue] = {
            "browser": base.browser,
            "profile": profile_name or directory,
            "profile_dir": directory,
            "profile_kind": kind,
            "user_data_dir": str(user.home / base.rel),
            **account_evidence(account, ctx.organisation_domains),
        }
        extensions_dir = profile / "Extensions"
        for ext_id, entry in sorted(settings.items()):
            yield from self._guarded(
                self._referenced(ctx, user, common, extensions_dir, ext_id, entry),
                extensions_dir / ext_id,
            )
        # Orphans: version directories the prefs do not reference (stale or half-installed).
        if is_dir(extensions_dir):
            try:
                ids = [child for child in subdirs(extensions_dir) if child.name not in settings]
            except Unreadable as problem:
                yield problem.to_error(self.name)
                ids = []
            for id_dir in ids:
                if len(id_dir.name) != 32 or not id_dir.name.isalpha():
                    continue
                try:
                    versions = subdirs(id_dir)
                except Unreadable as problem:
                    yield problem.to_error(self.name)
                    continue
                if not versions:
                    continue
                yield from self._guarded(
                    self._extension(user, common, id_dir.name, versions[-1], {}, referenced=False),
                    id_dir,
                )

    def _guarded(self, items: Iterator[ScanItem], where: Path) -> Iterator[ScanItem]:
        """Yield one extension's items; a path its files make unusable costs it alone."""
        try:
            yield from items
        except (OSError, ValueError) as exc:  # what path operations raise on hostile input
            yield Unreadable(where, f"extension skipped: {exc}").to_error(self.name)

    def _referenced(
        self,
        ctx: ScanContext,
        user: LocalUser,
        common: dict[str, EvidenceValue],
        extensions_dir: Path,
        ext_id: str,
        entry: dict[str, Any],
    ) -> Iterator[ScanItem]:
        raw_path = entry.get("path")
        path: Path | None = None
        if isinstance(raw_path, str) and raw_path:
            is_absolute = raw_path.startswith("/") or (len(raw_path) > 2 and raw_path[1] == ":")
            # Chrome on Windows writes "<id>\<version>"; read in a Windows image elsewhere.
            relative = raw_path.replace("\\", "/")
            path = rerooted(ctx, raw_path) if is_absolute else extensions_dir / relative
        yield from self._extension(user, common, ext_id, path, entry, referenced=True)

    def _extension(
        self,
        user: LocalUser,
        common: dict[str, EvidenceValue],
        ext_id: str,
        path: Path | None,
        entry: Mapping[str, Any],
        *,
        referenced: bool,
    ) -> Iterator[ScanItem]:
        source = install_source(entry) if referenced else "orphaned"
        manifest: dict[str, Any] = {}
        # Plain strings in this loop: pathlib costs more than the JSON parsing here.
        manifest_path = os.path.join(path, "manifest.json") if path is not None else None
        missing = manifest_path is None
        if manifest_path is not None:
            try:
                manifest = read_json_object(manifest_path, MAX_MANIFEST_BYTES)
            except Missing:
                missing = True
            except Unreadable as problem:
                yield problem.to_error(self.name)
        if missing and isinstance(entry.get("manifest"), dict):
            manifest = entry["manifest"]  # older Chromium kept unpacked manifests in the prefs
        elif missing and source != "built_in" and manifest_path is not None:
            yield Unreadable(manifest_path, "extension manifest missing").to_error(self.name)
        if not manifest and source == "built_in":
            return  # component extensions live in the browser install; nothing to say
        enabled, reasons = enabled_state(entry) if referenced else (False, [])
        hints = browser_extension_hints(manifest, _messages_reader(path))
        name = hints["name"] if isinstance(hints["name"], str) else None
        granted = mapping(entry.get("active_permissions"))
        if not manifest and granted:  # manifest gone: the prefs still say what was granted
            hints["permissions"] = string_list(granted.get("api"))
            hints["host_permissions"] = string_list(granted.get("explicit_host"))
            hints["content_script_matches"] = string_list(granted.get("scriptable_host"))
        permissions = string_list(hints["permissions"])
        host_permissions = string_list(hints["host_permissions"])
        evidence: dict[str, EvidenceValue] = dict(common)
        evidence.update(
            {
                "extension_id": ext_id,
                "name": name,
                "version": text(manifest.get("version"), 64),
                "manifest_version": manifest.get("manifest_version")
                if isinstance(manifest.get("manifest_version"), int)
                else None,
                "path": str(path) if path is not None else None,
                "install_source": source,
                "location": entry.get("location")
                if isinstance(entry.get("location"), int)
                else None,
                "from_webstore": entry.get("from_webstore")
                if isinstance(entry.get("from_webstore"), bool)
                else None,
                "enabled": enabled,
                "referenced": referenced,
                "install_time": webkit_time(entry.get("first_install_time"))
                or webkit_time(entry.get("install_time")),
                "permissions": permissions,
                "host_permissions": host_permissions,
            }
        )
        if reasons:
            evidence["disable_reasons"] = reasons
        key = manifest.get("key")
        if isinstance(key, str):
            key_id = extension_id_from_key(key)
            if key_id and key_id != ext_id:
                evidence["manifest_key_id"] = key_id  # a copied store key: possible impersonation
        yield Observation(
            kind=FindingKind.BROWSER_EXTENSION,
            indicator_kind=IndicatorKind.BROWSER_EXTENSION,
            indicator=ext_id,
            user=user.name,
            evidence=evidence,
            hints=hints,
        )

    # -- Firefox -------------------------------------------------------------------------------

    def _firefox_browser(
        self, ctx: ScanContext, user: LocalUser, base: BrowserDir
    ) -> Iterator[ScanItem]:
        root = user.home / base.rel
        if not is_dir(root):
            return
        profiles: dict[Path, str] = {}
        ini = root / "profiles.ini"
        if exists(ini):
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                parser.read_string(read_text(ini, MAX_SMALL_BYTES))
            except Unreadable as problem:
                yield problem.to_error(self.name)
            except configparser.Error as exc:
                yield Unreadable(ini, f"malformed profiles.ini: {exc}").to_error(self.name)
            for section in parser.sections():
                if not section.startswith("Profile"):
                    continue
                rel = parser.get(section, "Path", fallback="")
                if not rel:
                    continue
                relative = parser.get(section, "IsRelative", fallback="1") == "1"
                path = root / rel if relative else rerooted(ctx, rel)
                profiles[path] = parser.get(section, "Name", fallback=path.name)
        for folder in (root, root / "Profiles"):
            try:
                for child in subdirs(folder):
                    if child.name in ("Crash Reports", "Pending Pings", "Profiles"):
                        continue
                    if exists(child / "extensions.json") or exists(child / "prefs.js"):
                        profiles.setdefault(child, child.name)
            except Unreadable as problem:
                yield problem.to_error(self.name)
        for path, profile_name in sorted(profiles.items()):
            yield from self._firefox_profile(ctx, user, base, path, profile_name)

    def _firefox_profile(
        self, ctx: ScanContext, user: LocalUser, base: BrowserDir, profile: Path, profile_name: str
    ) -> Iterator[ScanItem]:
        addons_file = profile / "extensions.json"
        if not exists(addons_file):
            return
        try:
            account = account_evidence(firefox_account_domain(profile), ctx.organisation_domains)
        except Unreadable as problem:
            yield problem.to_error(self.name)
            account = {}
        try:
            addons = read_json_object(addons_file).get("addons")
        except Unreadable as problem:
            yield problem.to_error(self.name)
            return
        if not isinstance(addons, list):
            yield Unreadable(addons_file, "malformed: no addons list").to_error(self.name)
            return
        for addon in addons:
            if not isinstance(addon, dict) or not isinstance(addon.get("id"), str):
                continue
            if addon.get("type") not in (None, "extension", "webextension"):
                continue  # themes, dictionaries and language packs hold no AI
            hints = firefox_addon_hints(addon)
            origins = string_list(hints["host_permissions"])
            permissions = string_list(hints["permissions"])
            disabled = any(
                addon.get(flag) is True
                for flag in ("userDisabled", "appDisabled", "softDisabled", "embedderDisabled")
            )
            install_date = addon.get("installDate")
            evidence: dict[str, EvidenceValue] = {
                "browser": base.browser,
                "profile": profile_name,
                "profile_dir": profile.name,
                "extension_id": addon["id"][:256],
                "name": text(hints["name"], 256),
                "version": text(addon.get("version"), 64),
                "path": text(addon.get("path"), 1024),
                "install_source": _firefox_source(addon),
                "location": text(addon.get("location"), 64),
                "enabled": addon.get("active") is True and not disabled,
                "signed_state": addon.get("signedState")
                if isinstance(addon.get("signedState"), int)
                else None,
                "foreign_install": addon.get("foreignInstall") is True,
                "install_time": unix_time(install_date / 1000)
                if isinstance(install_date, int | float)
                else None,
                "permissions": permissions,
                "host_permissions": origins,
                **account,
            }
            yield Observation(
                kind=FindingKind.BROWSER_EXTENSION,
                indicator_kind=IndicatorKind.BROWSER_EXTENSION,
                indicator=addon["id"][:1024],
                user=user.name,
                evidence=evidence,
                hints=hints,
            )


def _firefox_source(addon: Mapping[str, Any]) -> str:
    location = addon.get("location")
    telemetry = addon.get("installTelemetryInfo")
    source = telemetry.get("source") if isinstance(telemetry, dict) else None
    if location in (
        "app-builtin",
        "app-system-defaults",
        "app-system-addons",
        "app-system-share",
        "app-system-local",
    ):
        return "built_in"
    if location == "app-temporary" or source == "temporary-addon":
        return "unpacked"
    if source == "enterprise-policy":
        return "policy"
    if addon.get("foreignInstall") is True or location in (
        "app-global",
        "app-system-user",
        "winreg-app-user",
        "winreg-app-global",
    ):
        return "sideloaded"
    if source in ("amo", "disco", "about:addons"):
        return "web_store"
    if source in ("file-url", "unknown"):
        return "sideloaded"
    return "user"


def _read_prefs(path: Path) -> dict[str, Any]:
    """Read a preferences file, once more if it was caught half-written by a running browser."""
    try:
        return read_json_object(path)
    except Missing:
        raise
    except Unreadable as problem:
        if not problem.reason.startswith("malformed"):
            raise
        time.sleep(_RETRY_DELAY)
        return read_json_object(path)


def _messages_reader(path: Path | None) -> MessagesReader | None:
    """Read an extension's ``_locales/<locale>/messages.json``, capped, each file once; None
    when absent."""
    if path is None:
        return None
    read_already: dict[str, str | None] = {}

    def read(locale: str) -> str | None:
        if locale not in read_already:
            messages_file = os.path.join(path, "_locales", locale, "messages.json")
            try:
                raw = read_bytes(messages_file, MAX_MANIFEST_BYTES)
                read_already[locale] = raw.decode("utf-8-sig", "replace")
            except Unreadable:
                read_already[locale] = None
        return read_already[locale]

    return read
