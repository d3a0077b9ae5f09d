"""The people directory import on SQLite and PostgreSQL: a clean import, or a clear error that
names the row and leaves nothing half-imported."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from collector.store import people
from server.errors import GuardFailed
from server.people.service import MAX_ROWS, import_directory, parse_directory_csv

GOOD = (
    b"username,name,email,department,pseudonym\n"
    b"Alice,Alice A,alice@example.org,Sales,\n"
    b"bob,Bob B,bob@example.org,Engineering,u-7f3a\n"
)


def test_a_clean_import_adds_everyone_and_a_second_updates(db: Session) -> None:
    result = import_directory(db, actor="admin", data=b"\xef\xbb\xbf" + GOOD)
    assert (result.rows, result.departments) == (2, 2)
    assert people.find_person(db, username="ALICE").department == "Sales"  # type: ignore[union-attr]
    assert people.find_person(db, username="u-7f3a").username == "bob"  # type: ignore[union-attr]
    import_directory(db, actor="admin", data=b"username,department\nalice,Legal\n")
    assert people.find_person(db, username="alice").department == "Legal"  # type: ignore[union-attr]
    assert len(people.list_people(db)) == 2


@pytest.mark.parametrize(
    ("data", "where", "why"),
    [
        (b"name,email\nA,a@x.org\n", "row 1", "missing column(s): username, department"),
        (b"username,department\nann,Sales\nANN,HR\n", "row 3", "already on row 2"),
        (b'username,department\nann,=HYPERLINK("x")\n', "row 2, column department", "formula"),
        (b"username,department\nann,@SUM(A1)\n", "row 2, column department", "formula"),
        (b"username,department\nann,Sales\nb\xe9a,Sales\n", "line 3", "not UTF-8"),
        (b"username,department\nann\n", "row 2", "has 1 cells"),
        (b"username,department,email\nann,Sales,not-an-address\n", "row 2, column email", "email"),
        (b"", "file", "empty"),
        (b"username,department\n", "file", "no people"),
    ],
)
def test_bad_files_name_the_row_and_import_nothing(
    db: Session, data: bytes, where: str, why: str
) -> None:
    with pytest.raises(GuardFailed) as raised:
        import_directory(db, actor="admin", data=data)
    assert raised.value.field == where and why in raised.value.reason
    assert people.list_people(db) == []


def test_the_row_limit_is_exact() -> None:
    rows = "".join(f"user{n},Dept{n % 40}\n" for n in range(MAX_ROWS))
    assert len(parse_directory_csv(("username,department\n" + rows).encode())) == MAX_ROWS
    with pytest.raises(GuardFailed) as raised:
        parse_directory_csv(("username,department\n" + rows + "one.more,X\n").encode())
    assert raised.value.field == f"row {MAX_ROWS + 2}"


@pytest.mark.slow  # 100,000 rows on each backend
def test_a_hundred_thousand_people_import_in_one_go(db: Session) -> None:
    rows = "".join(f"user{n},Dept{n % 40}\n" for n in range(MAX_ROWS))
    result = import_directory(db, actor="admin", data=("username,department\n" + rows).encode())
    assert result.rows == MAX_ROWS and result.departments == 40
    assert sum(people.count_people_by_department(db).values()) == MAX_ROWS
