"""The loader rejects bad catalogue files, naming the file, the entry and the reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from signatures import CatalogueError, IndicatorKind, load_catalogue, parse_file

GOOD_ENTRY = """\
  - id: example-ai
    name: Example AI
    vendor: Example Inc
    category: chat_assistant
    deployment: [saas]
    indicators:
      domains: [example-ai.test]
    sources: [https://example-ai.test/docs]
    last_reviewed: 2026-11-27
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads(tmp_path: Path) -> None:
    write(tmp_path, "example.yaml", "services:\n" + GOOD_ENTRY)
    catalogue = load_catalogue(tmp_path)
    service = catalogue.get("example-ai")
    assert service is not None
    assert service.indicators[IndicatorKind.DOMAIN] == ("example-ai.test",)
    assert service.last_reviewed == dt.date(2026, 11, 27)
    assert service.source_file == "example.yaml"
    assert catalogue.version.startswith("sha256-")


@pytest.mark.parametrize(
    ("replace", "by", "entry", "reason"),
    [
        (
            "      domains: [example-ai.test]",
            "      domains: [example-ai.test]\n      colours: [red]",
            "example-ai",
            "unknown indicator kind 'colours'",
        ),
        (
            "    vendor: Example Inc",
            "    vendor: Example Inc\n    owner: someone",
            "example-ai",
            "unknown key(s): owner",
        ),
        ("[example-ai.test]", "[Example-AI..test]", "example-ai", "is not a valid"),
        ("[example-ai.test]", "[https://example-ai.test/]", "example-ai", "is not a valid"),
        (
            "    sources: [https://example-ai.test/docs]\n",
            "",
            "example-ai",
            "every entry must name at least one source",
        ),
        (
            "    sources: [https://example-ai.test/docs]",
            "    sources: []",
            "example-ai",
            "every entry must name at least one source",
        ),
        ("category: chat_assistant", "category: chatbot", "example-ai", "unknown category"),
        ("id: example-ai", "id: Example AI", "services[0]", "'id' must be lowercase"),
        ("last_reviewed: 2026-11-27", "last_reviewed: yesterday", "example-ai", "must be a date"),
        (
            "    indicators:\n      domains: [example-ai.test]",
            "    indicators: {}",
            "example-ai",
            "at least one indicator",
        ),
        ("      domains: [example-ai.test]", "      ports: [70000]", "example-ai", "TCP port"),
        (
            "      domains: [example-ai.test]",
            "      browser_extensions: [not-an-id]",
            "example-ai",
            "is not a valid Chrome/Edge id",
        ),
        (
            "      domains: [example-ai.test]",
            "      hosts: ['*.*.example.test']",
            "example-ai",
            "is not a valid",
        ),
        ("deployment: [saas]", "deployment: [cloudy]", "example-ai", "unknown deployment mode"),
    ],
)
def test_bad_entry_names_file_entry_and_reason(
    tmp_path: Path, replace: str, by: str, entry: str, reason: str
) -> None:
    assert replace in GOOD_ENTRY
    write(tmp_path, "bad.yaml", "services:\n" + GOOD_ENTRY.replace(replace, by))
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert caught.value.file == "bad.yaml"
    assert caught.value.entry == entry
    assert reason in caught.value.reason
    assert "bad.yaml" in str(caught.value)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "services:\n  - id: [unclosed\n")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert caught.value.file == "broken.yaml"
    assert caught.value.entry is None
    assert "invalid YAML" in caught.value.reason


def test_duplicate_id_across_files_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "services:\n" + GOOD_ENTRY)
    write(tmp_path, "b.yaml", "services:\n" + GOOD_ENTRY)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert caught.value.file == "b.yaml"
    assert caught.value.entry == "example-ai"
    assert "duplicate id" in caught.value.reason and "a.yaml" in caught.value.reason


def test_duplicate_id_within_a_file_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="duplicate id"):
        parse_file("one.yaml", "services:\n" + GOOD_ENTRY + GOOD_ENTRY)


def test_examples_must_name_an_indicator_kind() -> None:
    text = "services:\n" + GOOD_ENTRY + "    examples:\n      match: ['fqdn:example-ai.test']\n"
    with pytest.raises(CatalogueError, match="must read '<indicator kind>:<value>'"):
        parse_file("x.yaml", text)


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"no \*\.yaml files"):
        load_catalogue(tmp_path)


ADDITION = """\
additions:
  - id: example-ai
    indicators:
      hosts: [api.example-ai.test]
      domains: [example-ai.test]
    sources: [https://source.test/list]
"""


def test_an_imported_addition_is_merged_into_its_service(tmp_path: Path) -> None:
    write(tmp_path, "example.yaml", "services:\n" + GOOD_ENTRY)
    (tmp_path / "imported").mkdir()
    write(tmp_path / "imported", "list.yaml", "services: []\n" + ADDITION)
    service = load_catalogue(tmp_path).get("example-ai")
    assert service is not None
    assert service.indicators[IndicatorKind.HOST] == ("api.example-ai.test",)
    # A value the service already has is not repeated.
    assert service.indicators[IndicatorKind.DOMAIN] == ("example-ai.test",)
    assert service.sources == ("https://example-ai.test/docs", "https://source.test/list")
    assert service.source_file == "example.yaml"


def test_an_addition_to_an_unknown_service_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "imported").mkdir()
    write(tmp_path, "example.yaml", "services:\n" + GOOD_ENTRY.replace("example-ai", "other"))
    write(tmp_path / "imported", "list.yaml", "services: []\n" + ADDITION)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert caught.value.file == "imported/list.yaml"
    assert caught.value.entry == "example-ai"
    assert "no catalogue file defines" in caught.value.reason


def test_an_addition_to_a_service_of_its_own_file_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="defined in another file"):
        parse_file("x.yaml", "services:\n" + GOOD_ENTRY + ADDITION)


def test_an_addition_needs_a_source() -> None:
    text = "services: []\n" + ADDITION.replace("    sources: [https://source.test/list]\n", "")
    with pytest.raises(CatalogueError, match="at least one source"):
        parse_file("x.yaml", text)


def test_imported_files_load_after_the_hand_written_ones(tmp_path: Path) -> None:
    (tmp_path / "imported").mkdir()
    write(tmp_path / "imported", "a.yaml", "services:\n" + GOOD_ENTRY)
    write(tmp_path, "z.yaml", "services:\n" + GOOD_ENTRY)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(tmp_path)
    assert caught.value.file == "imported/a.yaml"
    assert "first defined in z.yaml" in caught.value.reason


def test_shipped_catalogue_size(catalogue_stats: dict[str, int]) -> None:
    # Pinned at what the import of the committed snapshots gives (docs/signatures.md, "Sources"):
    # a drop here means a source or an override lost rows.
    assert catalogue_stats["services"] >= 2000
    assert catalogue_stats["multi_kind"] >= 300
    assert catalogue_stats["malicious"] >= 140
    assert catalogue_stats["browser_extension"] >= 1430
    assert catalogue_stats["ide_extension"] >= 220
    assert catalogue_stats["cli_tools"] >= 70
    assert catalogue_stats["sdk_packages"] >= 450
    assert catalogue_stats["desktop_apps"] >= 100


@pytest.fixture
def catalogue_stats() -> dict[str, int]:
    catalogue = load_catalogue()
    desktop = {
        IndicatorKind.BUNDLE_ID,
        IndicatorKind.WINDOWS_APP,
        IndicatorKind.DESKTOP_ENTRY,
        IndicatorKind.SNAP,
        IndicatorKind.FLATPAK,
    }
    services = catalogue.services

    def values(kind: IndicatorKind) -> int:
        return sum(len(service.indicators.get(kind, ())) for service in services)

    return {
        "services": len(services),
        "multi_kind": sum(1 for s in services if len(s.indicator_kinds()) > 1),
        "malicious": sum(1 for s in services if s.malicious is not None),
        "browser_extension": values(IndicatorKind.BROWSER_EXTENSION),
        "ide_extension": values(IndicatorKind.IDE_EXTENSION),
        "cli_tools": sum(
            1
            for s in services
            if "cli" in s.deployment
            and s.indicators.keys() & {IndicatorKind.NPM, IndicatorKind.PYPI, IndicatorKind.PROCESS}
        ),
        "sdk_packages": sum(
            len(s.indicators.get(IndicatorKind.PYPI, ()))
            + len(s.indicators.get(IndicatorKind.NPM, ()))
            for s in services
            if s.category.value == "ai_sdk"
        ),
        "desktop_apps": sum(1 for s in services if s.indicator_kinds() & desktop),
    }


def test_every_shipped_entry_is_sourced_and_reviewed() -> None:
    for service in load_catalogue().services:
        assert service.sources, service.id
        assert service.last_reviewed is not None, service.id
