"""What importers read and produce: snapshots of public sources, and claims drawn from rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from server.errors import CatalogueImportError
from signatures import IndicatorKind

# Header keys every snapshot names (``# key: value`` lines before its rows).
REQUIRED_META = ("source", "path", "commit", "licence", "retrieved", "columns")


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One data line of a snapshot, by column name; ``line`` is its line number in the file."""

    line: int
    values: Mapping[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A pinned copy of one public source: its header facts and its rows."""

    name: str  # file stem: "v2fly-category-ai-notcn"
    meta: Mapping[str, str]
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def commit(self) -> str:
        return self.meta["commit"]


def read_snapshot(path: Path) -> Snapshot:
    """Read one snapshot TSV; raises CatalogueImportError for a missing header or a ragged row."""
    meta: dict[str, str] = {}
    rows: list[Row] = []
    columns: tuple[str, ...] = ()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueImportError(path.name, f"cannot read: {exc}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# "):
            key, _, value = line[2:].partition(":")
            meta[key.strip()] = value.strip()
            if key.strip() == "columns":
                columns = tuple(value.strip().split("\t"))
            continue
        if not line.strip():
            continue
        if not columns:
            raise CatalogueImportError(
                f"{path.name}:{number}", "a row before the '# columns:' line"
            )
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise CatalogueImportError(
                f"{path.name}:{number}", f"{len(cells)} cells for {len(columns)} columns"
            )
        rows.append(Row(number, dict(zip(columns, cells, strict=True))))
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise CatalogueImportError(path.name, f"header lacks {', '.join(missing)}")
    return Snapshot(path.stem, meta, columns, tuple(rows))


@dataclasses.dataclass(frozen=True, slots=True)
class Malicious:
    """A published report that an extension is malicious."""

    report: str
    reported_on: str  # YYYY-MM-DD or ""
    summary: str
    rank: int  # lower wins when several sources report the same extension


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """One fact a source row states: this indicator belongs to this product.

    ``group`` ties claims of one product together within a source (a v2fly sub-list, a
    models.dev provider, an extension's name); ``website`` is a product's own site, which can
    tie it to a service that is already catalogued.
    """

    snapshot: str
    line: int
    kind: IndicatorKind
    value: str
    group: str
    name: str
    vendor: str
    category: str
    deployment: tuple[str, ...]
    source_url: str
    website: str = ""
    hq_country: str = ""
    malicious: Malicious | None = None
    # Whether claims sharing a registrable domain with this one are the same product (domain
    # lists) or not (an extension's website may be a shared host).
    joins_by_domain: bool = False
    tags: tuple[str, ...] = ()  # what a source says of the row, for override rules ("desc-kw")
    # Why the importer cannot take this row in (a keyword rule, an account placeholder...): the
    # row is recorded as dropped with this reason instead of being left out silently.
    skipped: str = ""
