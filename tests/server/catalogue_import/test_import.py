"""The imported catalogue is what the committed snapshots give, and the rules behave."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from server import signatures_cli
from server.catalogue_import import Layout, read_snapshot, run_import
from server.errors import CatalogueImportError
from signatures import IndicatorKind, Matcher, load_catalogue

ROOT = Path(__file__).resolve().parents[3]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="shadowmap")
    signatures_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_regenerating_from_the_committed_snapshots_gives_the_committed_files() -> None:
    result = run_import(Layout.of_checkout(ROOT))
    assert result.changed() == [], "run `shadowmap signatures import` and commit the result"


def test_every_snapshot_names_its_source_commit_and_licence() -> None:
    for path in sorted((ROOT / "catalogue" / "snapshots").glob("*.tsv")):
        snapshot = read_snapshot(path)
        assert snapshot.rows, path.name
        for key in ("source", "path", "commit", "licence", "retrieved"):
            assert snapshot.meta[key].strip(), (path.name, key)


def test_every_imported_indicator_names_its_service_unambiguously() -> None:
    catalogue = load_catalogue()
    matcher = Matcher(catalogue)
    imported = {
        line.split("\t")[3]: line.split("\t")[5]
        for line in (ROOT / "catalogue" / "provenance.tsv").read_text().splitlines()[1:]
        if line.split("\t")[4] == "added"
    }
    checked = 0
    for service in catalogue.services:
        for kind in (IndicatorKind.BROWSER_EXTENSION, IndicatorKind.IDE_EXTENSION):
            for value in service.indicators.get(kind, ()):
                if imported.get(value) == service.id:
                    hit = matcher.match_exact(kind, value)
                    assert hit is not None and hit.service_id == service.id, value
                    checked += 1
    assert checked > 1000


def small_checkout(tmp_path: Path, rows: str, overrides: str = "") -> Layout:
    """A checkout with one hand-written service and one snapshot of a domain list."""
    (tmp_path / "catalogue" / "snapshots").mkdir(parents=True)
    (tmp_path / "signatures" / "data").mkdir(parents=True)
    (tmp_path / "signatures" / "data" / "vendor.yaml").write_text(
        "services:\n"
        "  - id: known-ai\n    name: Known AI\n    vendor: Known\n    category: chat_assistant\n"
        "    indicators:\n      domains: [known-ai.test]\n"
        "    sources: [https://known-ai.test]\n    last_reviewed: 2026-11-27\n"
        "    examples:\n      match: [domain:known-ai.test]\n      no_match: [domain:x.test]\n"
    )
    header = (
        "# source: https://github.com/example/lists\n# path: data/ai\n# commit: abc1234\n"
        "# licence: MIT\n# retrieved: 2026-12-06\n# columns: list\tsub_list\tentry\n"
    )
    (tmp_path / "catalogue" / "snapshots" / "v2fly-category-ai-notcn.tsv").write_text(header + rows)
    (tmp_path / "catalogue" / "overrides.yaml").write_text(overrides or "drop: []\n")
    return Layout.of_checkout(tmp_path)


def test_a_list_row_joins_the_catalogued_service_of_its_list(tmp_path: Path) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tknown\tknown-ai.test\n"
        "category-ai-!cn\tknown\tfull:api.known-cdn.test\n"
        "category-ai-!cn\tnewco\tnewco.test\n"
        "category-ai-!cn\tnewco\tkeyword:newco\n",
    )
    result = run_import(layout)
    result.write()
    catalogue = load_catalogue(layout.data_dir)
    known = catalogue.get("known-ai")
    assert known is not None
    assert known.indicators[IndicatorKind.HOST] == ("api.known-cdn.test",)
    newco = catalogue.get("newco")
    assert newco is not None and newco.indicators[IndicatorKind.DOMAIN] == ("newco.test",)
    assert newco.sources == (
        "https://github.com/v2fly/domain-list-community/blob/abc1234/data/newco",
    )
    provenance = (layout.catalogue_dir / "provenance.tsv").read_text().splitlines()
    assert "v2fly-category-ai-notcn\t7\tdomain\tknown-ai.test\tcovered\tknown-ai\t" in provenance
    assert "v2fly-category-ai-notcn\t8\thost\tapi.known-cdn.test\tadded\tknown-ai\t" in provenance
    assert run_import(layout).changed() == []


def test_an_override_drops_a_row_and_says_why(tmp_path: Path) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tnewco\tnewco.test\ncategory-ai-!cn\tnewco\tblog.test\n",
        "drop:\n  - match: domain:blog.test\n    why: hosts AI-written content\n",
    )
    result = run_import(layout)
    result.write()
    catalogue = load_catalogue(layout.data_dir)
    assert Matcher(catalogue).match_domain("blog.test") is None
    assert (
        "dropped\t\toverride: hosts AI-written content"
        in (layout.catalogue_dir / "provenance.tsv").read_text()
    )


def test_a_row_the_catalogue_cannot_express_is_recorded_as_dropped(tmp_path: Path) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tnewco\tnewco.test\n"
        "category-ai-!cn\tnewco\tkeyword:newco\n"
        "category-ai-!cn\tnewco\tfull:telemetry.vendor.test @ads\n",
    )
    run_import(layout).write()
    assert Matcher(load_catalogue(layout.data_dir)).match_domain("telemetry.vendor.test") is None
    provenance = (layout.catalogue_dir / "provenance.tsv").read_text().splitlines()
    dropped = {line.split("\t")[3]: line.split("\t")[6] for line in provenance[1:]}
    assert dropped["keyword:newco"].startswith("a keyword or regexp rule")
    assert dropped["telemetry.vendor.test"].startswith("tagged @ads by the source")
    assert len(provenance) == 4  # every snapshot row has its line


def test_a_name_a_list_ties_to_several_services_is_resolved_or_dropped_with_why(
    tmp_path: Path,
) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tknown\tknown-ai.test\n"
        "category-ai-!cn\tknown\tother-ai.test\n"
        "category-ai-!cn\tknown\tknown-cdn.test\n"
        "category-ai-!cn\tknown\tshared-cdn.test\n",
        "resolve:\n  - match: domain:known-cdn.test\n    why: the CDN of its website\n"
        "    service: known-ai\n",
    )
    (layout.data_dir / "other.yaml").write_text(
        "services:\n"
        "  - id: other-ai\n    name: Other AI\n    vendor: Other\n    category: chat_assistant\n"
        "    indicators:\n      domains: [other-ai.test]\n"
        "    sources: [https://other-ai.test]\n    last_reviewed: 2026-11-27\n"
        "    examples:\n      match: [domain:other-ai.test]\n      no_match: [domain:x.test]\n"
    )
    run_import(layout).write()
    matcher = Matcher(load_catalogue(layout.data_dir))
    hit = matcher.match_domain("www.known-cdn.test")
    assert hit is not None and hit.service_id == "known-ai"
    assert matcher.match_domain("shared-cdn.test") is None
    provenance = (layout.catalogue_dir / "provenance.tsv").read_text()
    assert "shared-cdn.test\tdropped\t\tambiguous: its list names several services" in provenance


def test_an_override_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tnewco\tnewco.test\n",
        "drop:\n  - match: domain:nothing.test\n    why: typo\n",
    )
    with pytest.raises(CatalogueImportError, match="match nothing"):
        run_import(layout)


def test_shared_infrastructure_is_never_a_domain(tmp_path: Path) -> None:
    layout = small_checkout(
        tmp_path,
        "category-ai-!cn\tnewco\tgoogleapis.com\ncategory-ai-!cn\tnewco\tnewco.googleapis.com\n",
        "drop: []\nshared: [googleapis.com]\n",
    )
    run_import(layout).write()
    matcher = Matcher(load_catalogue(layout.data_dir))
    assert matcher.match_domain("www.googleapis.com") is None
    hit = matcher.match_domain("newco.googleapis.com")
    assert hit is not None and hit.kind is IndicatorKind.HOST
    assert matcher.match_domain("a.newco.googleapis.com") is None


def test_check_fails_on_a_hand_edited_generated_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = small_checkout(tmp_path, "category-ai-!cn\tnewco\tnewco.test\n")
    code, out, _ = run_cli(["signatures", "import", "--root", str(tmp_path)], capsys)
    assert code == 0 and "catalogue now 2 services" in out
    code, out, _ = run_cli(["signatures", "import", "--root", str(tmp_path), "--check"], capsys)
    assert code == 0 and out.startswith("ok:")
    generated = layout.imported_dir / "ai-domains.yaml"
    generated.write_text(generated.read_text().replace("newco.test", "other.test"))
    code, _, err = run_cli(["signatures", "import", "--root", str(tmp_path), "--check"], capsys)
    assert code == 1 and "out of date: signatures/data/imported/ai-domains.yaml" in err


def test_a_ragged_snapshot_row_is_named(tmp_path: Path) -> None:
    layout = small_checkout(tmp_path, "category-ai-!cn\tnewco\n")
    with pytest.raises(CatalogueImportError, match=r"v2fly-category-ai-notcn.tsv:7: 2 cells"):
        run_import(layout)


@pytest.mark.slow
def test_the_real_snapshots_copy_into_a_fresh_checkout(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "catalogue", tmp_path / "catalogue")
    shutil.copytree(ROOT / "signatures" / "data", tmp_path / "signatures" / "data")
    shutil.rmtree(tmp_path / "signatures" / "data" / "imported")
    result = run_import(Layout.of_checkout(tmp_path))
    result.write()
    assert load_catalogue(tmp_path / "signatures" / "data").version == load_catalogue().version
