"""The SQL of the ingest hot path, run straight on the driver's cursor of the session's
connection: statement text written once for SQLite and PostgreSQL, and the values each driver
takes for times, days and JSON.

SQLAlchemy Core spends more CPU per statement (cache keys, bound-value processing for every
row) than SQLite spends running it; a report runs a handful of statements, each on many rows,
so these go to the cursor in the session's own transaction. Both backends speak the same
``INSERT ... ON CONFLICT ... RETURNING``; the rows go to SQLite as multi-row ``VALUES`` and to
PostgreSQL as one array per column (``SELECT * FROM unnest(...)``), so that every statement
text is constant there: psycopg converts it once and the server prepares it once, whatever
the number of rows. ``?`` becomes ``%s`` for psycopg.
Stored values match what the models' types write (``collector.store.base.UTCDateTime``: naive UTC
text with microseconds on SQLite, ``timestamptz`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from itertools import chain
from typing import Any

from sqlalchemy.orm import Session

# Most bound values one statement may carry (SQLite's limit since 3.32; PostgreSQL's is 65,535).
_MAX_PARAMETERS = 32_766
_MAX_ROWS = 1_000


class IngestCursor:
    """A DBAPI cursor on the session's connection, inside the session's transaction."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        dialect = connection.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"unsupported database backend {dialect!r}")
        self.sqlite = dialect == "sqlite"
        self._cursor: Any = connection.connection.cursor()
        self._jsonb: Any = None if self.sqlite else _psycopg_jsonb()
        #: What the driver raises for a value the database cannot hold (text that is not
        #: UTF-8, JSON PostgreSQL refuses...): a refusal of the report, not a server error.
        self.unstorable: tuple[type[Exception], ...] = (
            UnicodeEncodeError,
            connection.dialect.dbapi.DataError,  # type: ignore[union-attr]
        )

    def close(self) -> None:
        self._cursor.close()

    # Values ---------------------------------------------------------------------------------

    def time(self, value: dt.datetime) -> Any:
        """A timezone-aware time as the backend stores it."""
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        if not self.sqlite:
            return value
        if value.tzinfo is not dt.UTC:
            value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def read_time(self, value: Any) -> dt.datetime:
        """A stored time, timezone-aware."""
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        assert isinstance(value, dt.datetime)
        return value

    def day(self, value: dt.date) -> Any:
        return value.isoformat() if self.sqlite else value

    def read_day(self, value: Any) -> dt.date:
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        assert isinstance(value, dt.date)
        return value

    def json(self, value: Any) -> Any:
        # Not ASCII-escaped: text SQLite cannot hold fails here, as it does on PostgreSQL,
        # instead of being stored as an escape that no page could render.
        return json.dumps(value, ensure_ascii=False) if self.sqlite else self._jsonb(value)

    # Statements -----------------------------------------------------------------------------

    def fetch(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        self._cursor.execute(self._text(sql), parameters)
        return list(self._cursor.fetchall())

    def run(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._text(sql), parameters)

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row (a prepared statement, pipelined on PostgreSQL)."""
        if rows:
            self._cursor.executemany(self._text(sql), rows)

    def fetch_in(self, select: str, column: str, values: Sequence[Any]) -> list[Any]:
        """Run ``select WHERE column IN values`` (``= ANY(array)`` on PostgreSQL)."""
        if not self.sqlite:
            return self.fetch(f"{select} WHERE {column} = ANY(?)", (list(values),))
        found: list[Any] = []
        for chunk in _chunks(values, _MAX_ROWS):
            placeholders = ", ".join("?" * len(chunk))
            found.extend(self.fetch(f"{select} WHERE {column} IN ({placeholders})", chunk))
        return found

    def insert(self, statement: BulkInsert, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Insert rows with one statement (SQLite: a few, in chunks); return what comes back
        (rows of a RETURNING clause)."""
        if not rows:
            return []
        if not self.sqlite:
            columns = [list(column) for column in zip(*rows, strict=True)]
            self._cursor.execute(statement.postgresql, columns)
            return list(self._cursor.fetchall()) if statement.returns else []
        found: list[Any] = []
        size = min(_MAX_ROWS, _MAX_PARAMETERS // len(statement.columns))
        for chunk in _chunks(rows, size):
            sql = statement.sqlite(len(chunk))
            self._cursor.execute(sql, list(chain.from_iterable(chunk)))
            if statement.returns:
                found.extend(self._cursor.fetchall())
        return found

    def _text(self, sql: str) -> str:
        return sql if self.sqlite else _pyformat(sql)

    # Dialect words --------------------------------------------------------------------------

    @property
    def least(self) -> str:
        return "min" if self.sqlite else "LEAST"

    @property
    def greatest(self) -> str:
        return "max" if self.sqlite else "GREATEST"


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _values(width: int, count: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * count)


@lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    # Statement text is ours: no literal "?" or "%" in it.
    return sql.replace("?", "%s")


@cache
def _psycopg_jsonb() -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb


@dataclass(frozen=True)
class BulkInsert:
    """An INSERT of many rows into ``table``: its (column, PostgreSQL type) pairs and the
    clause after the rows (ON CONFLICT, RETURNING), in which ``{least}`` and ``{greatest}``
    name the dialect's functions."""

    table: str
    columns: tuple[tuple[str, str], ...]
    tail: str = ""

    @property
    def returns(self) -> bool:
        return "RETURNING" in self.tail

    def _head(self) -> str:
        return f"INSERT INTO {self.table} ({', '.join(name for name, _type in self.columns)})"

    def sqlite(self, rows: int) -> str:
        return _sqlite_insert(self, rows)

    @cached_property
    def postgresql(self) -> str:
        arrays = ", ".join(f"%s::{type_}[]" for _name, type_ in self.columns)
        tail = self.tail.format(least="LEAST", greatest="GREATEST")
        # Table, columns and clauses are this module's constants, never input.
        return f"{self._head()} SELECT * FROM unnest({arrays}) {tail}"  # noqa: S608


@lru_cache(maxsize=512)
def _sqlite_insert(statement: BulkInsert, rows: int) -> str:
    tail = statement.tail.format(least="min", greatest="max")
    return f"{statement._head()} VALUES {_values(len(statement.columns), rows)} {tail}"
