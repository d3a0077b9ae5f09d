"""Read the labelled set: ``labelled/*.tsv``, one item a row, each with its source."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LABELLED = Path(__file__).resolve().parent / "labelled"
LABELS = ("ai", "non-ai")


class LabelledSetError(ValueError):
    """A labelled file is malformed: its path, line and reason."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path.name}:{line}: {reason}")


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled row: its label, the indicator it is found by, and every column."""

    label: str
    kind: str  # "browser_extension" | "ide_extension" | "hostname"
    key: str  # the extension id or the hostname
    fields: dict[str, str]

    def values(self, column: str) -> list[str]:
        """Return a ``' | '``-separated list column as a list."""
        raw = self.fields.get(column, "")
        return [part.strip() for part in raw.split(" | ") if part.strip()]


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [
            (number, line) for number, line in enumerate(handle, 1) if not line.startswith("#")
        ]
    reader = csv.DictReader(
        (line for _number, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    for (number, _line), row in zip(lines[1:], reader, strict=True):
        yield number, {key: value or "" for key, value in row.items() if key is not None}


def load(kind: str) -> list[Item]:
    """Return the labelled items of one kind; raise LabelledSetError on a malformed row."""
    path = LABELLED / f"{kind}s.tsv"
    key_column = "hostname" if kind == "hostname" else "id"
    items: list[Item] = []
    seen: set[str] = set()
    for number, row in _rows(path):
        label, key = row.get("label", ""), row.get(key_column, "")
        if label not in LABELS:
            raise LabelledSetError(path, number, f"label {label!r} is not ai or non-ai")
        if not key:
            raise LabelledSetError(path, number, f"no {key_column}")
        if not row.get("source_ref"):
            raise LabelledSetError(path, number, "no source_ref: every row keeps its provenance")
        if key.lower() in seen:
            raise LabelledSetError(path, number, f"{key} is listed twice")
        seen.add(key.lower())
        items.append(Item(label=label, kind=kind, key=key, fields=row))
    return items
