"""Import the people directory from CSV: all rows or none. A clear error names the row (and
column) of the first problem: a missing column, a duplicate username, a formula cell, bad
encoding, too many rows."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.store import people
from server.audit.service import record_change
from server.errors import GuardFailed

MAX_ROWS = 100_000
MAX_BYTES = 32 * 1024 * 1024
REQUIRED_COLUMNS = ("username", "department")
OPTIONAL_COLUMNS = ("name", "email", "pseudonym")
_WIDTHS = {"username": 128, "pseudonym": 128, "name": 200, "email": 254, "department": 128}
# Cells a spreadsheet would run as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class DirectoryImport:
    rows: int
    departments: int
    sha256: str


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GuardFailed(
            f"line {line}", "the file is not UTF-8 text (save it as CSV UTF-8 and import again)"
        ) from exc


def parse_directory_csv(data: bytes) -> list[dict[str, str]]:
    """Return the people in a directory CSV, checked; raises GuardFailed naming the row."""
    if len(data) > MAX_BYTES:
        raise GuardFailed("file", f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration as exc:
        raise GuardFailed("file", "empty: the first row must name the columns") from exc
    except csv.Error as exc:
        raise GuardFailed("row 1", f"not CSV: {exc}") from exc
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise GuardFailed("row 1", f"missing column(s): {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise GuardFailed("row 1", "a column is named twice")
    wanted = {
        name: header.index(name)
        for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if name in header
    }
    found: list[dict[str, str]] = []
    first_row_of: dict[str, int] = {}
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(found) >= MAX_ROWS:
                raise GuardFailed(f"row {number}", f"more than {MAX_ROWS} people in one file")
            if len(cells) != len(header):
                raise GuardFailed(
                    f"row {number}", f"has {len(cells)} cells; the header has {len(header)}"
                )
            person = {}
            for name, index in wanted.items():
                value = cells[index].strip()
                if value.startswith(_FORMULA_STARTS):
                    raise GuardFailed(
                        f"row {number}, column {name}",
                        "starts like a spreadsheet formula (=, +, -, @); remove it",
                    )
                if len(value) > _WIDTHS[name]:
                    raise GuardFailed(
                        f"row {number}, column {name}", f"at most {_WIDTHS[name]} characters"
                    )
                if any(ord(char) < 32 for char in value):
                    raise GuardFailed(f"row {number}, column {name}", "has control characters")
                person[name] = value
            username = person["username"].lower()
            if not username:
                raise GuardFailed(f"row {number}, column username", "is empty")
            if username in first_row_of:
                raise GuardFailed(
                    f"row {number}",
                    f"username {username!r} is already on row {first_row_of[username]}",
                )
            first_row_of[username] = number
            email = person.get("email", "")
            if email and (email.count("@") != 1 or " " in email):
                raise GuardFailed(f"row {number}, column email", "is not an email address")
            found.append(
                {
                    "username": username,
                    "pseudonym": person.get("pseudonym", "").lower(),
                    "name": person.get("name", ""),
                    "email": email,
                    "department": person["department"],
                }
            )
    except csv.Error as exc:
        raise GuardFailed(f"row {reader.line_num}", f"not CSV: {exc}") from exc
    if not found:
        raise GuardFailed("file", "no people below the header row")
    return found


def import_directory(session: Session, *, actor: str, data: bytes) -> DirectoryImport:
    """Check the whole CSV, then add or update every person in it (nothing if any row is
    wrong); raises GuardFailed naming the row."""
    rows = parse_directory_csv(data)
    people.upsert_people(session, rows=rows)
    result = DirectoryImport(
        rows=len(rows),
        departments=len({row["department"] for row in rows}),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    record_change(
        session,
        actor=actor,
        action="people.import",
        object_type="people",
        object_id="directory",
        before=None,
        after={"rows": result.rows, "departments": result.departments, "sha256": result.sha256},
    )
    return result
