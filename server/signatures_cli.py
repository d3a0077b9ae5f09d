"""The ``signatures`` command group: lint, stats, import, keygen, build and match the catalogue.

``register(subparsers)`` adds the group to an argparse parser; every command sets ``func``,
which takes the parsed arguments and returns the process exit code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from server.catalogue_import import Layout, run_import
from server.errors import CatalogueImportError
from signatures import (
    INDICATOR_KEYS,
    BundleError,
    Catalogue,
    CatalogueError,
    IndicatorKind,
    ManifestError,
    Match,
    Matcher,
    MessagesReader,
    Verdict,
    assess,
    browser_extension_hints,
    build_bundle,
    catalogue_files,
    default_data_dir,
    jetbrains_plugin_hints,
    judge_name,
    load_catalogue,
    load_private_key,
    load_public_key,
    parse_plugin_xml,
    read_file,
    verify_bundle,
    vscode_extension_hints,
    write_keypair,
)

_MATCH_KINDS = ("domain", "process", "extension", "ide-extension", "package")
_CHROMIUM_ID = re.compile(r"^[a-p]{32}$")


def register(subparsers: Any) -> None:
    """Add the ``signatures`` command group to an argparse sub-parser collection."""
    group = subparsers.add_parser("signatures", help="the AI service catalogue")
    commands = group.add_subparsers(dest="signatures_command", required=True, metavar="COMMAND")

    lint = commands.add_parser("lint", help="validate every catalogue file")
    _catalogue_dir_option(lint)
    lint.set_defaults(func=cmd_lint)

    stats = commands.add_parser("stats", help="count services by category and indicator kind")
    _catalogue_dir_option(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=cmd_stats)

    importer = commands.add_parser(
        "import",
        help="regenerate signatures/data/imported/ from the snapshots under catalogue/",
    )
    importer.add_argument(
        "--root",
        type=Path,
        default=None,
        help="checkout holding catalogue/ and signatures/data/ (default: this checkout)",
    )
    importer.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the committed files differ from a fresh import",
    )
    importer.set_defaults(func=cmd_import)

    keygen = commands.add_parser("keygen", help="create an Ed25519 bundle signing key pair")
    keygen.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="directory for signing-key.pem and signing-key.pub.pem",
    )
    keygen.set_defaults(func=cmd_keygen)

    build = commands.add_parser("build", help="compile the catalogue into a signed bundle")
    _catalogue_dir_option(build)
    build.add_argument(
        "--key", required=True, type=Path, metavar="KEYFILE", help="PEM Ed25519 private key"
    )
    build.add_argument("--out", required=True, type=Path, metavar="FILE", help="bundle to write")
    build.add_argument(
        "--bundle-version",
        type=int,
        default=None,
        help="monotonic bundle version (default: the UTC time as YYYYMMDDHHMMSS)",
    )
    build.set_defaults(func=cmd_build)

    match = commands.add_parser(
        "match", help='match values (one per line, or JSON {"value", "hints"}) from FILE'
    )
    _catalogue_dir_option(match)
    match.add_argument("--kind", required=True, choices=_MATCH_KINDS)
    match.add_argument(
        "--bundle",
        type=Path,
        default=None,
        help="match against a signed bundle instead of the YAML catalogue",
    )
    match.add_argument(
        "--public-key", type=Path, default=None, help="public key that must have signed --bundle"
    )
    match.add_argument(
        "file", nargs="?", metavar="FILE", help="input file, or - for standard input"
    )
    given = match.add_argument_group(
        "one value with its manifest fields (instead of FILE): the hints the agent reads"
    )
    given.add_argument("--value", help="the extension id, package or name to match")
    given.add_argument(
        "--manifest",
        type=Path,
        metavar="PATH",
        help="an unpacked browser extension (folder or manifest.json, _locales resolved), a "
        "VS Code extension (folder or package.json) or a JetBrains plugin.xml",
    )
    given.add_argument("--name", help="extension name (browser or IDE)")
    given.add_argument("--short-name", help="browser extension short_name")
    given.add_argument("--description", help="extension description")
    given.add_argument("--homepage", help="browser extension homepage_url")
    for flag, what in (
        ("--permission", "an API permission (sidePanel, storage...)"),
        ("--host-permission", "a host permission match pattern"),
        ("--content-script", "a content-script match pattern"),
        ("--category", "a VS Code category (AI, Chat...)"),
        ("--contributes", "a VS Code contribution point (chatParticipants...)"),
        ("--dependency", "an npm dependency of the extension or package"),
        ("--extension-dependency", "a VS Code extensionDependencies/extensionPack id"),
        ("--plugin-depends", "a JetBrains <depends> plugin id"),
    ):
        given.add_argument(flag, action="append", default=[], metavar="VALUE", help=what)
    match.set_defaults(func=cmd_match)


def _catalogue_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalogue-dir",
        type=Path,
        default=None,
        help="catalogue directory (default: the one shipped with Shadowmap)",
    )


def cmd_lint(args: argparse.Namespace) -> int:
    """Validate every catalogue file; exit 1 naming the file, entry and reason of each error."""
    directory: Path = args.catalogue_dir or default_data_dir()
    errors = 0
    for name, path in catalogue_files(directory):
        try:
            read_file(name, path.read_bytes())
        except CatalogueError as exc:
            sys.stderr.write(f"error: {exc.file}: {exc.entry or '-'}: {exc.reason}\n")
            errors += 1
    if errors:
        return 1
    try:  # each file is valid: now the checks across files (duplicate ids, additions)
        catalogue = load_catalogue(directory)
    except CatalogueError as exc:
        sys.stderr.write(f"error: {exc.file}: {exc.entry or '-'}: {exc.reason}\n")
        return 1
    sys.stdout.write(f"ok: {len(catalogue.services)} services, version {catalogue.version}\n")
    return 0


# Indicator kinds that identify an installed desktop app (a macOS bundle, a Windows uninstall
# entry or Start Menu name, a Linux .desktop file, snap or Flatpak).
_DESKTOP_KINDS = frozenset(
    {
        IndicatorKind.BUNDLE_ID,
        IndicatorKind.WINDOWS_APP,
        IndicatorKind.DESKTOP_ENTRY,
        IndicatorKind.SNAP,
        IndicatorKind.FLATPAK,
    }
)


def catalogue_stats(catalogue: Catalogue) -> dict[str, Any]:
    """Count services by category and by indicator kind, indicators, sources and coverage."""
    services = catalogue.services
    by_category = Counter(service.category.value for service in services)
    by_kind: Counter[str] = Counter()
    values: Counter[str] = Counter()
    for service in services:
        by_kind.update(kind.value for kind in service.indicator_kinds())
        for kind, items in service.indicators.items():
            values[kind.value] += len(items)
    multi = sum(1 for service in services if len(service.indicator_kinds()) > 1)
    sources = {source for service in services for source in service.sources}
    sdk_packages = {
        (kind, value)
        for service in services
        if service.category.value == "ai_sdk"
        for kind in (IndicatorKind.PYPI, IndicatorKind.NPM)
        for value in service.indicators.get(kind, ())
    }
    return {
        "version": catalogue.version,
        "services": len(services),
        "malicious_services": sum(1 for service in services if service.malicious is not None),
        "sources": len(sources),
        "services_with_several_indicator_kinds": multi,
        "by_category": dict(sorted(by_category.items())),
        "by_indicator_kind": {
            kind.value: by_kind.get(kind.value, 0) for kind in INDICATOR_KEYS.values()
        },
        "indicators_by_kind": {
            kind.value: values.get(kind.value, 0) for kind in INDICATOR_KEYS.values()
        },
        "coverage": {
            "browser_extension_ids": values.get(IndicatorKind.BROWSER_EXTENSION.value, 0),
            "ide_extension_ids": values.get(IndicatorKind.IDE_EXTENSION.value, 0),
            "cli_tools": sum(
                1
                for service in services
                if "cli" in service.deployment
                and service.indicators.keys()
                & {IndicatorKind.NPM, IndicatorKind.PYPI, IndicatorKind.PROCESS}
            ),
            "ai_sdk_packages": len(sdk_packages),
            "desktop_apps": sum(
                1 for service in services if service.indicator_kinds() & _DESKTOP_KINDS
            ),
        },
    }


def cmd_stats(args: argparse.Namespace) -> int:
    """Print catalogue statistics."""
    try:
        stats = catalogue_stats(load_catalogue(args.catalogue_dir))
    except CatalogueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(stats, indent=2) + "\n")
        return 0
    out = sys.stdout
    several = stats["services_with_several_indicator_kinds"]
    out.write(
        f"catalogue {stats['version']}: {stats['services']} services "
        f"({stats['malicious_services']} malicious), {stats['sources']} sources, "
        f"{several} with more than one indicator kind\n"
    )
    out.write("\nby category:\n")
    for name, count in sorted(stats["by_category"].items(), key=lambda item: (-item[1], item[0])):
        out.write(f"  {name:<22} {count:>5}\n")
    out.write("\nby indicator kind:        services  indicators\n")
    for name, count in stats["by_indicator_kind"].items():
        out.write(f"  {name:<22} {count:>9} {stats['indicators_by_kind'][name]:>11}\n")
    out.write("\ncoverage:\n")
    for name, count in stats["coverage"].items():
        out.write(f"  {name:<22} {count:>5}\n")
    return 0


def checkout_root() -> Path | None:
    """Return the checkout whose catalogue/snapshots the import reads: here, or this code's."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (candidate / "catalogue" / "snapshots").is_dir():
            return candidate
    return None


def cmd_import(args: argparse.Namespace) -> int:
    """Regenerate the imported catalogue, or check that the committed one is current."""
    root = args.root or checkout_root()
    if root is None or not (root / "catalogue" / "snapshots").is_dir():
        sys.stderr.write("error: no catalogue/snapshots here; run in a checkout or pass --root\n")
        return 1
    layout = Layout.of_checkout(root)
    try:
        result = run_import(layout)
    except (CatalogueImportError, CatalogueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(result.outcomes.items()))
    changed = result.changed()
    if args.check:
        for path in changed:
            sys.stderr.write(f"out of date: {path.relative_to(root)}\n")
        if changed:
            sys.stderr.write("run `shadowmap signatures import` and commit the result\n")
            return 1
        sys.stdout.write(f"ok: the imported catalogue is current ({counts} claims)\n")
        return 0
    result.write()
    try:
        catalogue = load_catalogue(layout.data_dir)
    except CatalogueError as exc:
        sys.stderr.write(f"error: the imported catalogue does not load: {exc}\n")
        return 1
    sys.stdout.write(
        f"imported: {counts} claims; {len(changed)} file(s) changed; "
        f"catalogue now {len(catalogue.services)} services\n"
    )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create a signing key pair."""
    try:
        private_path, public_path = write_keypair(args.out)
    except BundleError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"private key: {private_path}\npublic key:  {public_path}\n")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Build and sign a bundle of the catalogue."""
    try:
        catalogue = load_catalogue(args.catalogue_dir)
        key = load_private_key(args.key.read_bytes())
        data = build_bundle(catalogue, key, bundle_version=args.bundle_version)
        verify_bundle(data, key.public_key())
    except (CatalogueError, BundleError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    args.out.write_bytes(data)
    sys.stdout.write(
        f"wrote {args.out}: {len(catalogue.services)} services, "
        f"{len(data)} bytes, catalogue {catalogue.version}\n"
    )
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    """Match each input line and print one JSON object per line."""
    try:
        catalogue = _catalogue_for(args)
    except (CatalogueError, BundleError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    matcher = Matcher(catalogue)
    if args.value is not None or args.manifest is not None:
        if args.file is not None:
            sys.stderr.write("error: give FILE or --value/--manifest, not both\n")
            return 2
        try:
            value, hints = given_hints(args)
        except ValueError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        _write_record(matcher, args.kind, value, hints, sys.stdout)
        return 0
    if args.file is None:
        sys.stderr.write("error: give FILE, or --value (with manifest fields) or --manifest\n")
        return 2
    if args.file == "-":
        _match_lines(matcher, args.kind, sys.stdin, sys.stdout)
        return 0
    try:
        with open(args.file, encoding="utf-8") as handle:
            _match_lines(matcher, args.kind, handle, sys.stdout)
    except OSError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


def _catalogue_for(args: argparse.Namespace) -> Catalogue:
    if args.bundle is None:
        return load_catalogue(args.catalogue_dir)
    if args.public_key is None:
        raise BundleError("--bundle needs --public-key")
    return verify_bundle(
        args.bundle.read_bytes(), load_public_key(args.public_key.read_bytes())
    ).catalogue


def _match_lines(matcher: Matcher, kind: str, lines: TextIO, out: TextIO) -> None:
    for value, hints in _inputs(lines):
        _write_record(matcher, kind, value, hints, out)


def _write_record(
    matcher: Matcher, kind: str, value: str, hints: dict[str, object], out: TextIO
) -> None:
    match, verdict = match_value(matcher, kind, value, hints)
    record: dict[str, Any] = {
        "value": value,
        "service_id": match.service_id if match else None,
        "indicator_kind": match.kind.value if match else None,
        "indicator": match.indicator if match else None,
        "confidence": match.confidence if match else (verdict.confidence if verdict else None),
        "heuristic": verdict.reason if verdict else None,
        "severity": matcher.catalogue.severity_of(match.service_id if match else None).value,
    }
    out.write(json.dumps(record) + "\n")


_MAX_MANIFEST_BYTES = 1024 * 1024


def given_hints(args: argparse.Namespace) -> tuple[str, dict[str, object]]:
    """Return the value and the hints of one ``match`` given by options and/or a manifest.

    Raises ValueError naming the file when a manifest cannot be read.
    """
    hints: dict[str, object] = {}
    value: str | None = args.value
    if args.manifest is not None:
        manifest_value, hints = manifest_hints(args.manifest)
        value = value or manifest_value
    for key, given in (
        ("name", args.name),
        ("short_name", args.short_name),
        ("description", args.description),
        ("homepage_url", args.homepage),
    ):
        if given is not None:
            hints[key] = given
    for key, listed in (
        ("permissions", args.permission),
        ("host_permissions", args.host_permission),
        ("content_script_matches", args.content_script),
        ("categories", args.category),
        ("contributes", args.contributes),
        ("dependencies", args.dependency),
        ("extension_dependencies", args.extension_dependency),
        ("plugin_dependencies", args.plugin_depends),
    ):
        if listed:
            hints[key] = list(listed)
    return value or "", hints


def manifest_hints(path: Path) -> tuple[str | None, dict[str, object]]:
    """Read an unpacked extension's manifest as the agent's scanners do; return (id, hints).

    The id is the folder's name when it has the shape of one (Chromium's
    ``Extensions/<id>/<version>``, VS Code's ``publisher.name-version``), else the
    manifest's own (``publisher.name``, ``<id>``), else None.
    """
    folder = path if path.is_dir() else path.parent
    candidates = (
        [path]
        if path.is_file()
        else [folder / "manifest.json", folder / "package.json", folder / "META-INF/plugin.xml"]
    )
    for candidate in candidates:
        if not candidate.is_file():
            continue
        raw = _read_capped(candidate)
        if candidate.name == "plugin.xml":
            try:
                info = parse_plugin_xml(raw)
            except ManifestError as exc:
                raise ValueError(f"{candidate}: {exc}") from exc
            return info.get("id"), jetbrains_plugin_hints(info)
        try:
            doc = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{candidate}: malformed JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ValueError(f"{candidate}: not a JSON object")
        if candidate.name == "package.json":
            ext_id = None
            if isinstance(doc.get("publisher"), str) and isinstance(doc.get("name"), str):
                ext_id = f"{doc['publisher']}.{doc['name']}"
            return ext_id, vscode_extension_hints(doc, _nls_of(candidate.parent))
        owner = folder.parent.name if _CHROMIUM_ID.match(folder.parent.name) else folder.name
        ext_id = owner if _CHROMIUM_ID.match(owner) else None
        return ext_id, browser_extension_hints(doc, _messages_reader(candidate.parent))
    raise ValueError(f"{path}: no manifest.json, package.json or META-INF/plugin.xml")


def _nls_of(folder: Path) -> dict[str, Any] | None:
    """Read a VS Code extension's ``package.nls.json``, or None."""
    try:
        doc = json.loads(_read_capped(folder / "package.nls.json").decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _messages_reader(folder: Path) -> MessagesReader:
    def read(locale: str) -> str | None:
        messages = folder / "_locales" / locale / "messages.json"
        try:
            return _read_capped(messages).decode("utf-8-sig", "replace")
        except ValueError:
            return None

    return read


def _read_capped(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from exc
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ValueError(f"{path}: larger than {_MAX_MANIFEST_BYTES} bytes")
    return raw


def _inputs(lines: TextIO) -> Iterator[tuple[str, dict[str, object]]]:
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get("value"), str):
                hints = doc.get("hints")
                yield doc["value"], hints if isinstance(hints, dict) else {}
                continue
        yield line, {}


def match_value(
    matcher: Matcher, kind: str, value: str, hints: dict[str, object]
) -> tuple[Match | None, Verdict | None]:
    """Match one input value of a ``match --kind``; fall back to the heuristics."""
    if kind == "domain":  # the one DNS-name judge; assess() below asks it again for a guess
        indicator_kind = IndicatorKind.DOMAIN
        judged = judge_name(matcher, value)
        match = judged.match if judged is not None else None
    elif kind == "process":
        indicator_kind = IndicatorKind.PROCESS
        parts = value.split()
        exe = parts[0] if parts else value
        name = exe.replace("\\", "/").rsplit("/", 1)[-1]
        match = matcher.match_process(name=name, exe=exe, cmdline=parts)
        value = name
    elif kind == "extension":
        indicator_kind = IndicatorKind.BROWSER_EXTENSION
        match = matcher.match_exact(indicator_kind, value)
    elif kind == "ide-extension":
        indicator_kind = IndicatorKind.IDE_EXTENSION
        match = matcher.match_exact(indicator_kind, value)
    else:
        ecosystem, _, name = value.partition(":")
        kinds: tuple[IndicatorKind, ...]
        if name and ecosystem in ("pypi", "npm"):
            kinds = (IndicatorKind(ecosystem),)
            value = name
        else:
            kinds = (IndicatorKind.PYPI, IndicatorKind.NPM)
        for candidate in kinds:
            match = matcher.match_exact(candidate, value)
            if match is not None:
                return match, None
        for candidate in kinds:
            verdict = assess(matcher, candidate, value, hints)
            if verdict is not None:
                return None, verdict
        return None, None
    if match is not None:
        return match, None
    return None, assess(matcher, indicator_kind, value, hints)
