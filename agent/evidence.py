"""Evidence declarations: the fields an evidence source may report, as osquery declares columns.

Each scanner (and network capture, and the runner for what it adds) states the fields it puts
in a finding's evidence: name, type, a one-line description, and whether the value changes
between two scans of the same unchanged thing. The declarations generate docs/scanners.md,
tell the spool which changes are not news, and a test fails when a source emits a field it
did not declare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from signatures import EvidenceValue

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _is_text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# The evidence types a declaration may name, and the values each accepts (None always fits:
# a field the OS would not tell is reported empty rather than left out).
EVIDENCE_TYPES: Mapping[str, Callable[[object], bool]] = {
    "text": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "text list": _is_text_list,
    "timestamp": lambda value: isinstance(value, str) and _TIMESTAMP.match(value) is not None,
    "integer or text": lambda value: isinstance(value, str | int) and not isinstance(value, bool),
}


@dataclass(frozen=True, slots=True)
class EvidenceField:
    """One field an evidence source may put in a finding's evidence (an osquery column)."""

    name: str
    type: str  # a key of EVIDENCE_TYPES
    description: str
    # The value changes between two scans of the same unchanged thing (a pid, a start time,
    # a rotating address): a change of it alone is not news, so the spool does not resend.
    volatile: bool = False

    def __post_init__(self) -> None:
        if self.type not in EVIDENCE_TYPES:
            raise ValueError(f"evidence field {self.name!r}: unknown type {self.type!r}")

    def accepts(self, value: object) -> bool:
        """Tell whether a value fits this field's type."""
        return value is None or EVIDENCE_TYPES[self.type](value)


def undeclared_evidence(
    declared: Iterable[EvidenceField], evidence: Mapping[str, EvidenceValue]
) -> list[str]:
    """Return the evidence keys a declaration does not name, or whose value has another type."""
    fields = {declared_field.name: declared_field for declared_field in declared}
    problems = []
    for key, value in evidence.items():
        known = fields.get(key)
        if known is None:
            problems.append(key)
        elif not known.accepts(value):
            problems.append(f"{key} ({type(value).__name__} is not {known.type})")
    return problems


def volatile_fields(declarations: Iterable[Iterable[EvidenceField]]) -> frozenset[str]:
    """Return the names of the fields any of these declarations marks volatile."""
    return frozenset(
        declared.name for fields in declarations for declared in fields if declared.volatile
    )


_TABLE = re.compile(
    r"(?P<open><!-- evidence: (?P<name>[a-z_]+) [^>]*-->\n).*?(?P<close><!-- /evidence -->)", re.S
)


def evidence_table(fields: Iterable[EvidenceField]) -> str:
    """Return one declaration as a Markdown table."""
    lines = ["| field | type | volatile | meaning |", "|---|---|---|---|"]
    for declared in fields:
        volatile = "yes" if declared.volatile else ""
        lines.append(
            f"| `{declared.name}` | {declared.type} | {volatile} | {declared.description} |"
        )
    return "\n".join(lines) + "\n"


def render_evidence_tables(text: str, sources: Mapping[str, Iterable[EvidenceField]]) -> str:
    """Rewrite every ``<!-- evidence: NAME ... -->`` block of a Markdown text from NAME's fields.

    Raises ValueError for a block naming no known evidence source.
    """

    def table(found: re.Match[str]) -> str:
        name = found["name"]
        if name not in sources:
            raise ValueError(f"no evidence source named {name!r}")
        return found["open"] + evidence_table(sources[name]) + found["close"]

    return _TABLE.sub(table, text)
