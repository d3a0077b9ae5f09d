"""`shadowmap people import FILE`: load the people directory from a CSV (every row or none),
for files larger than the API's body limit or for a nightly job."""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.db import transaction
from server.cli_support import Commands, sessions_for, settings_from
from server.errors import GuardFailed
from server.people.service import MAX_BYTES, import_directory


def cmd_people_import(args: argparse.Namespace) -> int:
    """Import the directory CSV at FILE; a wrong row is named and nothing is stored."""
    path: Path = args.file
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise GuardFailed("file", f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        result = import_directory(session, actor=args.actor, data=data)
    print(
        f"imported {result.rows} people in {result.departments} departments "
        f"(sha256 {result.sha256})"
    )
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    people = commands.add_parser("people", help="the people directory").add_subparsers(
        dest="people_command", required=True, metavar="ACTION"
    )
    people_import = people.add_parser(
        "import", parents=[common], help="import the directory from a CSV (every row or none)"
    )
    people_import.add_argument("file", type=Path, help="username,department[,name,email,pseudonym]")
    people_import.add_argument(
        "--actor", default="cli", help="the name the audit trail records (default: cli)"
    )
    people_import.set_defaults(func=cmd_people_import)
