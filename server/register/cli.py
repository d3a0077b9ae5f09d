"""`shadowmap register mark-due`: move entries whose review date has come to review due."""

from __future__ import annotations

import argparse
import datetime as dt

from collector.db import transaction
from server.cli_support import Commands, sessions_for, settings_from
from server.register.service import mark_reviews_due


def cmd_register_mark_due(args: argparse.Namespace) -> int:
    """Move approved/restricted entries whose review date has come to review due."""
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        moved = mark_reviews_due(session, today=dt.datetime.now(dt.UTC).date())
    print(f"{len(moved)} entries now due for review" + (f": {', '.join(moved)}" if moved else ""))
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    register = commands.add_parser("register", help="the AI register").add_subparsers(
        dest="register_command", required=True, metavar="ACTION"
    )
    register_due = register.add_parser(
        "mark-due", parents=[common], help="move entries whose review date has come to review due"
    )
    register_due.set_defaults(func=cmd_register_mark_due)
