"""One importer per public source: each turns a snapshot's rows into claims.

An importer only reads what its source says (a host, a package, an extension id, a product
name); whether a claim is kept, and which service it joins, is decided in :mod:`.build`.
Rows a source marks as rules the catalogue cannot express (keyword and regexp rules) are
skipped here, and recorded as such in the provenance map.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import quote, urlsplit

from server.catalogue_import.model import Claim, Malicious, Row, Snapshot
from signatures import IndicatorKind

Importer = Callable[[Snapshot], Iterator[Claim]]

_COUNTRIES = {
    "USA": "US",
    "US": "US",
    "UK": "GB",
    "France": "FR",
    "China": "CN",
    "Canada": "CA",
    "Germany": "DE",
    "Israel": "IL",
    "Japan": "JP",
    "South Korea": "KR",
    "Korea": "KR",
    "Russia": "RU",
    "UAE": "AE",
    "Netherlands": "NL",
    "Switzerland": "CH",
    "Sweden": "SE",
    "Finland": "FI",
    "India": "IN",
    "Australia": "AU",
    "Singapore": "SG",
    "Spain": "ES",
    "Italy": "IT",
    "Poland": "PL",
}
_EXTENSION_STORES = ("chrome", "edge", "firefox")
_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Return an id-safe slug of a name: ``ChatGPT for Google`` -> ``chatgpt-for-google``."""
    return _SLUG_DROP.sub("-", text.lower()).strip("-")


def blob_url(repository: str, commit: str, path: str) -> str:
    """Return the URL of a file of a GitHub repository at a commit."""
    return f"https://github.com/{repository}/blob/{commit}/{path}"


def _ref_url(source_ref: str) -> str:
    """Turn a ``owner/repo:path@commit`` reference into the file's URL at that commit."""
    match = re.match(r"^([\w.-]+/[\w.-]+):(.+)@([0-9a-f]{7,40})", source_ref)
    if match is None:
        return ""
    repository, path, commit = match.groups()
    path = re.sub(r"\s+\([^)]*\)$", "", path.strip())  # a note such as "(EXTENSIONS_LIST)"
    return blob_url(repository, commit, quote(path, safe="/"))


def _repo_name(source_ref: str) -> str:
    """Return the repository name of a ``owner/repo:path@commit`` reference."""
    return source_ref.split(":", 1)[0].split("/")[-1].replace("-", " ")


def _repo_url(snapshot: Snapshot) -> str:
    return snapshot.meta["source"].split()[0]


def _source_url(snapshot: Snapshot, path: str | None = None) -> str:
    """Return the URL of a single-repository source file at its pinned commit."""
    repository = _repo_url(snapshot).removeprefix("https://github.com/")
    return blob_url(repository, snapshot.commit, path or snapshot.meta["path"])


# -- domain lists ----------------------------------------------------------------------------


def _domain_claim(
    snapshot: Snapshot,
    row: Row,
    *,
    value: str,
    group: str,
    name: str,
    source_url: str,
    kind: IndicatorKind = IndicatorKind.DOMAIN,
    category: str = "",
    hq_country: str = "",
) -> Claim:
    return Claim(
        snapshot=snapshot.name,
        line=row.line,
        kind=kind,
        value=value.lower().rstrip("."),
        group=group,
        name=name,
        vendor=name,
        category=category,
        deployment=("saas",),
        source_url=source_url,
        hq_country=hq_country,
        joins_by_domain=True,
    )


_RULE_SKIP = "a keyword or regexp rule: the catalogue names hosts and domains, not patterns"
_ADS_SKIP = "tagged @ads by the source: a telemetry or survey host the AI web app loads, not AI"


def _skip(snapshot: Snapshot, row: Row, kind: IndicatorKind, value: str, why: str) -> Claim:
    """Return a claim the build records as dropped with ``why`` (no row is left out silently)."""
    return Claim(
        snapshot=snapshot.name,
        line=row.line,
        kind=kind,
        value=value,
        group="",
        name="",
        vendor="",
        category="",
        deployment=(),
        source_url="",
        skipped=why,
    )


def v2fly(snapshot: Snapshot) -> Iterator[Claim]:
    """v2fly domain-list-community: bare names are domains, ``full:`` names exact hosts."""
    country = {"category-ai-cn": "CN", "category-ai-ru": "RU"}
    for row in snapshot.rows:
        entry = row["entry"].split()[0] if row["entry"].split() else ""
        if not entry or entry.startswith("include:"):
            continue  # includes are expanded into their own rows
        if entry.startswith(("regexp:", "keyword:")):
            yield _skip(snapshot, row, IndicatorKind.DOMAIN, entry, _RULE_SKIP)
            continue
        if "@ads" in row["entry"]:
            host = entry.removeprefix("full:").removeprefix("domain:")
            yield _skip(snapshot, row, IndicatorKind.HOST, host, _ADS_SKIP)
            continue
        kind = IndicatorKind.DOMAIN
        if entry.startswith("full:"):
            kind, entry = IndicatorKind.HOST, entry.removeprefix("full:")
        entry = entry.removeprefix("domain:")
        sub_list = row["sub_list"]
        # A name the category list holds itself (not through a product's list) names no
        # product: it stands alone, as a row of a mixed list does.
        own = sub_list == row["list"]
        yield _domain_claim(
            snapshot,
            row,
            value=entry,
            kind=kind,
            group="" if own else f"v2fly:{sub_list}",
            name="" if own else sub_list,
            source_url=(
                f"https://github.com/v2fly/domain-list-community/blob/{snapshot.commit}"
                f"/data/{sub_list}"
            ),
            hq_country=country.get(row["list"], ""),
        )


def radiusmethod(snapshot: Snapshot) -> Iterator[Claim]:
    """radiusmethod/shadowai-domains: ``*.x`` and ``x`` both mean the domain x."""
    category = {
        "radiusmethod-multimodal": "image_generation",
        "radiusmethod-voice": "voice_generation",
    }.get(snapshot.name, "")
    for row in snapshot.rows:
        domain = row["domain"].removeprefix("*.")
        product = row["subcategory"]
        yield _domain_claim(
            snapshot,
            row,
            value=domain,
            group=f"radiusmethod:{product}",
            name=product,
            source_url=_source_url(snapshot),
            category=category,
            hq_country=_COUNTRIES.get(row["country"], ""),
        )


def _split_rule(rule: str) -> tuple[IndicatorKind, str] | None:
    """Read one proxy-ruleset entry; keyword rules name no domain."""
    if rule.startswith("keyword:") or "," in rule or "/" in rule:
        return None
    if rule.startswith("full:"):
        return IndicatorKind.HOST, rule.removeprefix("full:")
    return IndicatorKind.DOMAIN, rule.removeprefix("domain:")


def acl4ssr(snapshot: Snapshot) -> Iterator[Claim]:
    """ACL4SSR's AI rulesets; the mixed "AI" list names no product, so a row stands alone."""
    for row in snapshot.rows:
        parsed = _split_rule(row["rule"])
        if parsed is None:
            yield _skip(snapshot, row, IndicatorKind.DOMAIN, row["rule"], _RULE_SKIP)
            continue
        kind, value = parsed
        file = row["source_ref"].split(":", 1)[-1].split("@")[0]
        yield _domain_claim(
            snapshot,
            row,
            value=value,
            kind=kind,
            group="",
            name="",
            source_url=_source_url(snapshot, file),
        )


def sukkaw(snapshot: Snapshot) -> Iterator[Claim]:
    """SukkaW/Surge's AIGC domains, one section per product family."""
    for row in snapshot.rows:
        parsed = _split_rule(row["rule"])
        if parsed is None:
            yield _skip(snapshot, row, IndicatorKind.DOMAIN, row["rule"], _RULE_SKIP)
            continue
        kind, value = parsed
        yield _domain_claim(
            snapshot,
            row,
            value=value,
            kind=kind,
            group=f"sukkaw:{row['section']}",
            name="",
            source_url=_source_url(snapshot),
        )


def _api_host(base_url: str) -> tuple[IndicatorKind, str] | None:
    """Return the host of a provider's API base URL; a one-label placeholder is a wildcard."""
    if not base_url.startswith("https://"):
        return None
    host = urlsplit(base_url.replace("{", "%7B").replace("}", "%7D")).hostname or ""
    host = host.replace("%7b", "{").replace("%7d", "}")
    labels = host.split(".")
    placeholders = [label for label in labels if "{" in label or "$" in label]
    if len(placeholders) > 1 or host.startswith(("localhost", "127.")) or len(labels) < 2:
        return None
    if placeholders:
        if not re.fullmatch(r"\{[\w-]+\}[a-z0-9-]*", placeholders[0]):
            return None
        host = ".".join(re.sub(r"^\{[\w-]+\}", "*", label) for label in labels)
        if host.split(".").index(next(x for x in host.split(".") if "*" in x)) > len(labels) - 3:
            return None  # a wildcard needs two fixed labels after it
    return IndicatorKind.HOST, host


def providers(snapshot: Snapshot) -> Iterator[Claim]:
    """cline's and models.dev's provider catalogues: API host, key variable and SDK package."""
    id_column = "provider_id" if "provider_id" in snapshot.columns else "id"
    url_column = "api_base" if "api_base" in snapshot.columns else "base_url"
    env_column = "env_vars" if "env_vars" in snapshot.columns else "api_key_env"
    # An SDK package several providers are reached through names none of them.
    packages = Counter(row["npm_package"] for row in snapshot.rows if row["npm_package"])
    for row in snapshot.rows:
        provider, name = row[id_column], row["name"] or row[id_column]

        def claim(kind: IndicatorKind, value: str, row: Row = row, provider: str = provider,
                  name: str = name) -> Claim:  # fmt: skip
            return Claim(
                snapshot=snapshot.name,
                line=row.line,
                kind=kind,
                value=value,
                group=f"provider:{provider}",
                name=name,
                vendor=name,
                category="llm_api_provider",
                deployment=("api",),
                source_url=(
                    _source_url(snapshot, f"providers/{provider}/provider.toml")
                    if snapshot.name.startswith("modelsdev")
                    else _source_url(snapshot)
                ),
                joins_by_domain=True,
            )

        host = _api_host(row[url_column])
        if host is not None:
            yield claim(*host)
        elif row[url_column].startswith("https://"):
            yield _skip(
                snapshot,
                row,
                IndicatorKind.HOST,
                urlsplit(row[url_column]).netloc,
                "an API host made of a per-account placeholder or a local address: no fixed host",
            )
        for variable in re.split(r"[,;\s]+", row[env_column]):
            if re.fullmatch(r"[A-Z][A-Z0-9_]+", variable):
                yield claim(IndicatorKind.ENV_VAR, variable)
        package = row["npm_package"]
        if package and packages[package] == 1:
            yield claim(IndicatorKind.NPM, package)


def continue_hosts(snapshot: Snapshot) -> Iterator[Claim]:
    """Host names an open-source coding assistant calls: each stands alone."""
    for row in snapshot.rows:
        yield _domain_claim(
            snapshot,
            row,
            value=row["host"],
            kind=IndicatorKind.HOST,
            group="",
            name="",
            source_url=_source_url(snapshot, "core/llm/llms"),
        )


# -- browser extensions ----------------------------------------------------------------------

# " - ", " | ", ": ", and the en and em dashes store titles use.
_NAME_CUT = re.compile("\\s+[-|\u2013\u2014:]\\s+|:\\s+|\\s+\\|\\s*")

_CATEGORY_WORDS: tuple[tuple[str, str], ...] = (
    (r"meet|transcri|note ?taker|zoom|minutes", "meeting_assistant"),
    (r"translat", "translation"),
    (r"grammar|writ|rewrit|paraphras|essay|proofread|spell", "writing_assistant"),
    (r"image|photo|art\b|draw|midjourney|stable diffusion", "image_generation"),
    (r"\bvoice|speech|speak|read aloud|tts\b|dictat", "voice_generation"),
    (r"code|coding|github|leetcode|developer|sql", "coding_assistant"),
    (r"search|perplexity", "ai_search"),
    (r"chatgpt|gpt|claude|gemini|bard|copilot|deepseek|grok|chat|assistant|llm", "chat_assistant"),
)


def extension_category(name: str) -> str:
    """Guess a browser extension's category from its store title."""
    lowered = name.lower()
    for pattern, category in _CATEGORY_WORDS:
        if re.search(pattern, lowered):
            return category
    return "productivity"


def product_name(title: str) -> str:
    """Return the product part of a store title: ``Wordtune - AI writing`` -> ``Wordtune``."""
    title = " ".join(title.split())
    head = _NAME_CUT.split(title, maxsplit=1)[0].strip()
    return head if len(head) >= 3 else title


def _website(value: str) -> str:
    value = value.strip().lower()
    if not value or "@" in value or " " in value:
        return ""
    value = value.removeprefix("https://").removeprefix("http://").removeprefix("www.")
    host = value.split("/")[0]
    return host if "." in host else ""


_GECKO_ID = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9._-]+|\{[0-9a-fA-F-]{36}\}")


def _extension_id(store: str, value: str) -> str:
    """Return the indicator form of a store id; AMO slugs are not visible on an endpoint."""
    if value.startswith("amo-slug:"):
        return value  # kept so that the build can say why it is dropped
    if store in ("chrome", "edge") and re.fullmatch(r"[a-p]{32}", value):
        return value
    if store == "edge" and re.fullmatch(r"[a-z]{32}", value):
        return ""  # an Edge Add-ons product id outside a-p is not an installed extension id
    if store == "firefox" and re.fullmatch(
        r"[A-Za-z0-9._+-]+@[A-Za-z0-9._-]+|\{[0-9a-fA-F-]{36}\}", value
    ):
        return value
    return ""


def extensions(snapshot: Snapshot) -> Iterator[Claim]:
    """Lists of AI browser extensions: one claim per store id, grouped by product name."""
    for row in snapshot.rows:
        store = row["store"]
        if store not in _EXTENSION_STORES:
            continue
        value = _extension_id(store, row["id"])
        if not value:
            continue
        title = row["name"]
        if snapshot.name == "ext-source-repos" or title.startswith(("MSG", "__MSG")):
            # These rows name a store link ("Chrome", "Install link"): the slug names the product.
            title = row["slug"].replace("-", " ") or _repo_name(row["source_ref"])
        title = title or row["slug"] or value
        name = product_name(title)
        website = _website(row["website"] or row["website_or_owner"])
        owner = row["website_or_owner"] if not website else ""
        vendor = website or owner or "unknown publisher"
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=IndicatorKind.BROWSER_EXTENSION,
            value=value,
            group=f"ext:{slug(name)}:{website or slug(owner)}",
            name=name,
            vendor=vendor,
            category=extension_category(title),
            deployment=("browser_extension",),
            source_url=_ref_url(row["source_ref"]) or _repo_url(snapshot),
            website=website,
            tags=tuple(tag for tag in (row["keyword"].split(":")[0],) if tag),
        )


_MALICIOUS_RANK = {
    "mal-unit42": 0,
    "mal-kraven-hunting-packages": 0,
    "mal-mallorybowes": 1,
    "mal-smooshkid": 2,
    "mal-toborrm9": 3,
}


def malicious_extensions(snapshot: Snapshot) -> Iterator[Claim]:
    """Researchers' lists of malicious AI-themed extensions: one service per extension id."""
    for row in snapshot.rows:
        value = _extension_id(row["store"], row["id"])
        if not value:
            continue
        name = " ".join(row["name"].split())  # empty: the build takes a listing's name
        if row["campaign"]:
            summary = f"An AI-themed extension of the {row['campaign']} campaign in the report."
        elif snapshot.name == "mal-toborrm9":
            summary = "An AI-themed extension Google removed from the Chrome Web Store as malware."
        elif snapshot.name == "mal-mallorybowes":
            threats = row["threat_type"].replace(",", ", ") or "malicious"
            summary = f"A malicious AI-themed extension ({threats})."
        elif snapshot.name == "mal-smooshkid":
            summary = "An AI-themed extension compromised in the December 2024 supply-chain attack."
        else:
            summary = "An AI-themed extension named in a Unit 42 threat note."
        reported = row["date_disclosed"] or row["reported_on"]
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=IndicatorKind.BROWSER_EXTENSION,
            value=value,
            group=f"malicious:{value}",
            name=name,
            vendor="unknown",
            category=extension_category(name),
            deployment=("browser_extension",),
            source_url=_ref_url(row["source_ref"]) or _repo_url(snapshot),
            malicious=Malicious(
                report=row["report_url"],
                reported_on=reported if re.fullmatch(r"\d{4}-\d\d-\d\d", reported) else "",
                summary=summary,
                rank=_MALICIOUS_RANK.get(snapshot.name, 9),
            ),
        )


# -- IDE extensions --------------------------------------------------------------------------


def ide_extensions(snapshot: Snapshot) -> Iterator[Claim]:
    """VS Code ``publisher.name`` ids and JetBrains plugin ids, grouped by vendor."""
    for row in snapshot.rows:
        value = row["id"]
        if value.startswith("jbm:") or not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+", value
        ):
            continue  # a JetBrains Marketplace number is not the plugin id an IDE records
        marketplace = row["marketplace"] or "vscode"
        vendor = row["vendor"] or (value.split(".")[0] if marketplace == "vscode" else "")
        name = product_name(row["name"]) if row["name"] else value
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=IndicatorKind.IDE_EXTENSION,
            value=value,
            group=f"ide:{slug(vendor) or slug(name)}",
            name=name,
            vendor=vendor or name,
            category="coding_assistant",
            deployment=("ide",),
            source_url=_ref_url(row["source_ref"]) or _repo_url(snapshot),
        )


# -- command-line tools ----------------------------------------------------------------------

_CLI_KINDS = {"npm": IndicatorKind.NPM, "pypi": IndicatorKind.PYPI}


def cli_tools(snapshot: Snapshot) -> Iterator[Claim]:
    """AI CLIs and coding agents: their packages and the executables they install."""
    for row in snapshot.rows:
        service = row["service_name"] or row["package"]

        def claim(kind: IndicatorKind, value: str, row: Row = row, service: str = service) -> Claim:
            return Claim(
                snapshot=snapshot.name,
                line=row.line,
                kind=kind,
                value=value,
                group=f"cli:{slug(service)}",
                name=service,
                vendor=row["vendor"] or service,
                category="coding_assistant",
                deployment=("cli",),
                source_url=_ref_url(row["source_ref"]) or _repo_url(snapshot),
            )

        kind = _CLI_KINDS.get(row["ecosystem"])
        if kind is not None:
            yield claim(kind, row["package"])
        for binary in re.split(r"[,;\s]+", row["bins"]):
            if binary and re.fullmatch(r"[A-Za-z0-9._+-]+", binary):
                yield claim(IndicatorKind.PROCESS, binary)


# -- SDK packages ----------------------------------------------------------------------------


def sdk_packages(snapshot: Snapshot) -> Iterator[Claim]:
    """AI SDK, framework and agent-runtime packages, grouped by project."""
    for row in snapshot.rows:
        kind = _CLI_KINDS.get(row["ecosystem"])
        if kind is None:
            continue
        project = row["project"] or row["package"]
        source_url = _ref_url(row["source_ref"]) or (
            f"https://pypi.org/project/{row['package']}/"
            if kind is IndicatorKind.PYPI
            else f"https://www.npmjs.com/package/{row['package']}"
        )
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=kind,
            value=row["package"],
            group=f"sdk:{slug(project)}",
            name=project,
            vendor=project,
            category="ai_sdk",
            deployment=("local",),
            source_url=source_url,
        )


# -- desktop apps ----------------------------------------------------------------------------


def desktop_apps(snapshot: Snapshot) -> Iterator[Claim]:
    """Desktop AI apps: bundle ids, app bundles, Flatpak, .desktop, snap ids and executables."""
    for row in snapshot.rows:
        id_kind, value = row["id_kind"], row["id"].strip()
        indicator: tuple[IndicatorKind, str] | None = None
        if id_kind == "bundle_id":
            indicator = IndicatorKind.BUNDLE_ID, value
        elif id_kind == "app_bundle" and value.endswith(".app"):
            indicator = IndicatorKind.EXE_PATH, f"/{value}/Contents/MacOS/"
        elif id_kind == "flatpak":
            indicator = IndicatorKind.FLATPAK, value
        elif id_kind == "desktop_file":
            indicator = IndicatorKind.DESKTOP_ENTRY, value
        elif id_kind == "snap":
            indicator = IndicatorKind.SNAP, value
        elif id_kind == "exe_name" and value.lower().endswith(".exe"):
            indicator = IndicatorKind.PROCESS, value.replace("\\", "/").rsplit("/", 1)[-1]
        elif id_kind == "display_name":
            indicator = IndicatorKind.WINDOWS_APP, value
        if indicator is None:
            if id_kind in ("winget", "apple_team_id", "pkg_id"):
                yield _skip(
                    snapshot,
                    row,
                    IndicatorKind.WINDOWS_APP if id_kind == "winget" else IndicatorKind.BUNDLE_ID,
                    value,
                    f"a {id_kind.replace('_', ' ')}: no scanner reads it (app names, bundle ids"
                    " and paths are what the agent sees)",
                )
            continue  # Scoop manifest names and malformed rows: the Scoop snapshot has the app
        app = row["app_name"]
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=indicator[0],
            value=indicator[1],
            group=f"app:{slug(app)}",
            name=app,
            vendor=row["vendor"] or app,
            category="chat_assistant",
            deployment=("desktop",),
            source_url=_ref_url(row["source_ref"]) or _repo_url(snapshot),
        )


def _homepage(url: str) -> str:
    """Return a product's own site from a homepage URL; a code host names no product."""
    host = _website(url)
    return "" if host in ("github.com", "gitlab.com", "sourceforge.net") else host


def scoop_apps(snapshot: Snapshot) -> Iterator[Claim]:
    """Scoop manifests: Start Menu shortcut names and the executables an app runs."""
    for row in snapshot.rows:
        shortcuts = [name for name in row["shortcut"].split(";") if name]
        name = shortcuts[0] if shortcuts else row["manifest"]
        values = [(IndicatorKind.WINDOWS_APP, shortcut) for shortcut in shortcuts]
        values += [(IndicatorKind.PROCESS, exe) for exe in row["exe"].split(";") if exe]
        for kind, value in values:
            yield Claim(
                snapshot=snapshot.name,
                line=row.line,
                kind=kind,
                value=value,
                group=f"app:{slug(name)}",  # one app across desktop sources
                name=name,
                vendor=_homepage(row["homepage"]) or name,
                category="chat_assistant",
                deployment=("desktop",),
                source_url=_source_url(snapshot, f"bucket/{row['manifest']}.json"),
                website=_homepage(row["homepage"]),
            )


def installomator(snapshot: Snapshot) -> Iterator[Claim]:
    """Installomator labels of AI apps: the macOS app bundle, tied by its download host."""
    for row in snapshot.rows:
        app = row["app_name"]
        yield Claim(
            snapshot=snapshot.name,
            line=row.line,
            kind=IndicatorKind.EXE_PATH,
            value=f"/{app}.app/Contents/MacOS/",
            group=f"app:{slug(app)}",
            name=app,
            vendor=app,
            category="chat_assistant",
            deployment=("desktop",),
            source_url=_source_url(snapshot, f"fragments/labels/{row['label']}.sh"),
            website=row["download_host"],
        )


def casks(snapshot: Snapshot) -> Iterator[Claim]:
    """Homebrew casks: bundle ids from uninstall/zap stanzas and the app bundle."""
    for row in snapshot.rows:
        name = row["name"] or row["cask"]
        values = [(IndicatorKind.BUNDLE_ID, bid) for bid in row["bundle_ids"].split(";") if bid]
        values += [
            (IndicatorKind.EXE_PATH, f"/{app}/Contents/MacOS/")
            for app in row["app"].split(";")
            if app.endswith(".app")
        ]
        for kind, value in values:
            yield Claim(
                snapshot=snapshot.name,
                line=row.line,
                kind=kind,
                value=value,
                group=f"app:{slug(name)}",
                name=name,
                vendor=_homepage(row["homepage"]) or name,
                category="chat_assistant",
                deployment=("desktop",),
                source_url=_ref_url(row["source_ref"]),
                website=_homepage(row["homepage"]),
            )


# Which importer reads which snapshot (by file-name prefix, longest first).
IMPORTERS: Mapping[str, Importer] = {
    "v2fly-": v2fly,
    "radiusmethod-": radiusmethod,
    "acl4ssr-": acl4ssr,
    "sukkaw-": sukkaw,
    "cline-providers": providers,
    "modelsdev-providers": providers,
    "continue-api-hosts": continue_hosts,
    "ext-": extensions,
    "mal-": malicious_extensions,
    "ide-": ide_extensions,
    "vscode-ai-extension-ids": ide_extensions,
    "cli-": cli_tools,
    "sdk-": sdk_packages,
    "desktop-apps": desktop_apps,
    "desktop-scoop": scoop_apps,
    "desktop-installomator": installomator,
    "desktop-casks": casks,
}


def importer_for(snapshot_name: str) -> Importer | None:
    """Return the importer of a snapshot, by its file name."""
    for prefix in sorted(IMPORTERS, key=len, reverse=True):
        if snapshot_name.startswith(prefix):
            return IMPORTERS[prefix]
    return None
