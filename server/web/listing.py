"""The one list component every list page uses: paging with the true total, sorting on the
columns a list declares, and filters carried in the URL, so that a view can be bookmarked and
shared and no list ever silently stops. A bad query parameter never fails the page: it is
ignored and named in a message on the page (``problems``).

A page declares a ``ListSpec``; ``read_view`` reads the request's query into a ``ListView``;
the page reads one page of rows from the store (collector.paging) and wraps it with
``ListView.show``; templates draw it with the macros of server/templates/_list.html.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from collector.paging import MAX_PAGE_SIZE, PageRequest, PageRows

#: The longest value a filter or search box may carry; longer values are cut (and said so).
MAX_FILTER_LENGTH = 200
MAX_PAGE_NUMBER = 1_000_000


@dataclass(frozen=True, slots=True)
class SortColumn:
    """A column people can sort on: its key (the store's), its label, its first direction."""

    key: str
    label: str
    descending_first: bool = False  # counts, dates and scores: the biggest first


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What a list declares once: where it lives, what sorts it, what filters it."""

    path: str
    noun: tuple[str, str]  # singular, plural ("item", "items")
    sorts: tuple[SortColumn, ...]
    default_sort: str
    default_descending: bool = False
    filters: tuple[str, ...] = ()
    page_sizes: tuple[int, ...] = (25, 50, 100, 200)
    default_page_size: int = 50

    def sort_column(self, key: str) -> SortColumn | None:
        return next((column for column in self.sorts if column.key == key), None)


@dataclass(slots=True)
class ListView:
    """One request's view of a list: sort, direction, page, page size and filter values."""

    spec: ListSpec
    sort: str
    descending: bool
    page: int
    page_size: int
    filters: dict[str, str]
    problems: list[str] = field(default_factory=list)

    def problem(self, message: str) -> None:
        """Record that part of the query was not understood (shown at the top of the list)."""
        self.problems.append(message)

    def page_request(self) -> PageRequest:
        return PageRequest(
            sort=self.sort,
            descending=self.descending,
            limit=self.page_size,
            offset=(self.page - 1) * self.page_size,
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """Return the query parameters of this view with ``changes`` (None removes one)."""
        params: dict[str, str] = {k: v for k, v in self.filters.items() if v}
        if self.sort != self.spec.default_sort or self.descending != self.spec.default_descending:
            params["sort"] = self.sort
            params["dir"] = "desc" if self.descending else "asc"
        if self.page_size != self.spec.default_page_size:
            params["per_page"] = str(self.page_size)
        if self.page > 1:
            params["page"] = str(self.page)
        for key, value in changes.items():
            if value is None or value == "":
                params.pop(key, None)
            else:
                params[key] = str(value)
        return params

    def url(self, **changes: Any) -> str:
        """Return the URL of this view with ``changes``: the state a link carries."""
        params = self.query(**changes)
        return f"{self.spec.path}?{urlencode(params)}" if params else self.spec.path

    def sort_url(self, key: str) -> str:
        """Return the URL that sorts on ``key`` (again on the current key: the other way)."""
        column = self.spec.sort_column(key)
        if column is None:
            raise ValueError(f"{self.spec.path} does not sort on {key!r}")
        descending = not self.descending if key == self.sort else column.descending_first
        return self.url(sort=key, dir="desc" if descending else "asc", page=None)

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"

    def hidden_fields(self, *skip: str) -> list[tuple[str, str]]:
        """Return the query parameters a form must carry to keep this view (less ``skip``)."""
        return [(k, v) for k, v in self.query(page=None).items() if k not in skip]

    def show(self, read: Callable[[PageRequest], PageRows]) -> ListPage:
        """Read this view's page with ``read``; past the last page, show the last page."""
        found = read(self.page_request())
        pages = max(1, -(-found.total // self.page_size))
        if self.page > pages:
            self.problem(f"there is no page {self.page}; the last page is {pages}")
            self.page = pages
            found = read(self.page_request())
        return ListPage(view=self, rows=list(found.rows), total=found.total)


def page_in_memory(
    rows: Sequence[Any], page: PageRequest, keys: Mapping[str, Callable[[Any], Any]]
) -> PageRows:
    """Sort and slice rows already computed in Python (a list whose rows are derived, such as
    the reviews due) the way the store pages a query: ``keys`` per sort key, None last."""
    key = keys[page.sort]
    present = [row for row in rows if key(row) is not None]
    missing = [row for row in rows if key(row) is None]
    ordered = sorted(present, key=key, reverse=page.descending) + missing
    return PageRows(rows=ordered[page.offset : page.offset + page.limit], total=len(rows))


@dataclass(slots=True)
class ListPage:
    """One page of a list as a template draws it."""

    view: ListView
    rows: list[Any]
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.view.page_size))

    @property
    def first(self) -> int:
        """The position (1-based) of the first row shown; 0 on an empty list."""
        return (self.view.page - 1) * self.view.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    def summary(self) -> str:
        """Say what is shown out of how many: "Showing 51 to 100 of 1,177 items"."""
        singular, plural = self.view.spec.noun
        noun = singular if self.total == 1 else plural
        if not self.total:
            return f"No {plural}"
        if self.total <= len(self.rows):
            return f"{self.total:,} {noun}"
        return f"Showing {self.first:,}-{self.last:,} of {self.total:,} {noun}"

    def page_links(self) -> list[int | None]:
        """Return the page numbers to link (None: a gap), around the current page."""
        current, last = self.view.page, self.pages
        wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
        links: list[int | None] = []
        for number in wanted:
            if links and isinstance(links[-1], int) and number - links[-1] > 1:
                links.append(None)
            links.append(number)
        return links


def read_view(request: Request, spec: ListSpec) -> ListView:
    """Read a list's sort, direction, page, page size and filters from the request's query.

    Nothing here fails: a value that makes no sense is replaced by the default and named in
    ``problems``, so that a mistyped or stale bookmark still shows the list.
    """
    params = request.query_params
    problems: list[str] = []
    sort = params.get("sort", spec.default_sort)
    column = spec.sort_column(sort)
    if column is None:
        problems.append(f"the list cannot be sorted by {sort[:40]!r}; sorted by default")
        sort = spec.default_sort
    direction = params.get("dir", "")
    if direction not in ("", "asc", "desc"):
        problems.append(f"sort direction {direction[:20]!r} is not asc or desc")
        direction = ""
    if direction:
        descending = direction == "desc"
    elif "sort" in params and column is not None:
        descending = column.descending_first
    else:
        descending = spec.default_descending
    page = _whole_number(params.get("page", "1"), "page", 1, MAX_PAGE_NUMBER, problems) or 1
    size = (
        _whole_number(
            params.get("per_page", str(spec.default_page_size)),
            "rows per page",
            1,
            MAX_PAGE_SIZE,
            problems,
        )
        or spec.default_page_size
    )
    filters: dict[str, str] = {}
    for name in spec.filters:
        value = params.get(name, "")
        if len(value) > MAX_FILTER_LENGTH:
            problems.append(f"{name} was cut to {MAX_FILTER_LENGTH} characters")
            value = value[:MAX_FILTER_LENGTH]
        filters[name] = value
    return ListView(
        spec=spec,
        sort=sort,
        descending=descending,
        page=page,
        page_size=size,
        filters=filters,
        problems=problems,
    )


def _whole_number(
    text: str, what: str, lowest: int, highest: int, problems: list[str]
) -> int | None:
    try:
        number = int(text)
    except ValueError:
        problems.append(f"{what} {text[:20]!r} is not a whole number")
        return None
    if not lowest <= number <= highest:
        problems.append(f"{what} must be between {lowest} and {highest:,}")
        return None
    return number


def choice(view: ListView, name: str, allowed: Sequence[str], label: str) -> str:
    """Return filter ``name`` if it is one of ``allowed`` ("" allowed: no filter), else ""
    with a message."""
    value = view.filters.get(name, "")
    if value and value not in allowed:
        view.problem(f"{label} {value[:40]!r} is not one of the choices; not filtered by it")
        view.filters[name] = ""
        return ""
    return value
