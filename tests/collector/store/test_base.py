"""The column types every store module uses: UTC datetimes on both backends (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from collector.store.base import UTCDateTime

PARIS = dt.timezone(dt.timedelta(hours=1))
AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)


def test_a_naive_datetime_is_refused_on_every_backend() -> None:
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        with pytest.raises(ValueError, match="naive"):
            UTCDateTime().process_bind_param(dt.datetime(2026, 11, 20, 9, 0), dialect)


def test_times_are_stored_in_utc_and_read_back_aware() -> None:
    column = UTCDateTime()
    stored_sqlite = column.process_bind_param(AT, sqlite.dialect())
    stored_postgres = column.process_bind_param(AT, postgresql.dialect())
    assert stored_sqlite == dt.datetime(2026, 11, 20, 9, 0)  # SQLite keeps it naive, in UTC
    assert stored_postgres == AT and stored_postgres.tzinfo is dt.UTC

    read = column.process_result_value(stored_sqlite, sqlite.dialect())
    assert read == AT and read is not None and read.tzinfo is dt.UTC
    assert column.process_result_value(AT, postgresql.dialect()) == AT
    assert column.process_bind_param(None, sqlite.dialect()) is None
