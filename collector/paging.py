"""One page of a list: the order a caller asked for (a declared sort key, a direction), the
slice, and the true number of rows behind it, so that no list is ever cut without saying so.
Every list the UI and the API page through reads its rows with ``read_page``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, case, func, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

#: A query of any row shape, and a column or expression of any type (sort keys, tiebreaks).
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"
AnyColumn: TypeAlias = SQLColumnExpression[Any]

#: The most rows one page may hold (a caller asking for more gets this many).
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which rows of a list to read: ``sort`` is one of the list's declared sort keys."""

    sort: str
    descending: bool = False
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class PageRows:
    """The rows of one page and how many rows the whole (filtered) list has."""

    rows: Sequence[Any]
    total: int


def read_page(
    session: Session,
    query: AnySelect,
    *,
    page: PageRequest,
    sorts: Mapping[str, AnyColumn],
    tiebreak: AnyColumn,
    count_query: AnySelect | None = None,
) -> PageRows:
    """Return one page of ``query`` in the order ``page.sort`` names, with the true total.

    ``tiebreak`` (a unique column) makes the order total, so that pages never overlap.
    ``count_query`` counts the rows when ``query`` has joins that do not change the count.
    A sort key the list does not declare is a programming error (the server checks what
    people ask for against the same declaration): ValueError.
    """
    if page.sort not in sorts:
        raise ValueError(f"unknown sort key {page.sort!r}; known: {', '.join(sorts)}")
    key = sorts[page.sort]
    ordered = query.order_by(
        key.desc().nulls_last() if page.descending else key.asc().nulls_last(), tiebreak
    )
    rows = session.execute(
        ordered.limit(max(1, min(page.limit, MAX_PAGE_SIZE))).offset(max(0, page.offset))
    ).all()
    counted = (count_query if count_query is not None else query).order_by(None)
    total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    return PageRows(rows=rows, total=int(total))


def score_by_key(
    column: AnyColumn, scores: Mapping[str, int], *, otherwise: int
) -> ColumnElement[int]:
    """Return a SQL expression giving each value of ``column`` its score from ``scores``
    (``otherwise`` for values not listed or NULL): one WHEN per distinct score, not per key."""
    by_score: dict[int, list[str]] = {}
    for key, score in scores.items():
        by_score.setdefault(score, []).append(key)
    if not by_score:
        return literal(otherwise)
    return case(
        *[(column.in_(sorted(keys)), score) for score, keys in sorted(by_score.items())],
        else_=otherwise,
    )


def points_of_present_keys(
    session: Session,
    column: InstrumentedAttribute[str | None],
    points: Mapping[str, int],
    *,
    unknown: int,
) -> ColumnElement[int]:
    """Return a SQL expression giving each row the points of its ``column`` value (``unknown``
    for a value ``points`` does not list; NULL rows get the most common value, callers decide).

    Only the values the table holds are spelled out, the most common as the ELSE: a catalogue
    lists thousands of services, an inventory holds a few hundred of them.
    """
    present = session.scalars(select(column).where(column.is_not(None)).distinct()).all()
    found = {key: points.get(key, unknown) for key in present if key is not None}
    counts: dict[int, int] = {}
    for value in found.values():
        counts[value] = counts.get(value, 0) + 1
    common = max(counts, key=lambda value: (counts[value], value)) if counts else unknown
    return score_by_key(
        column, {key: value for key, value in found.items() if value != common}, otherwise=common
    )
