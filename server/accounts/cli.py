"""`shadowmap user`: local accounts from the command line, through the same service as the UI."""

from __future__ import annotations

import argparse

from collector.db import transaction
from collector.store import users
from server.accounts import service
from server.accounts.passwords import MIN_PASSWORD_LENGTH
from server.accounts.roles import ROLES
from server.cli_support import Commands, sessions_for, settings_from


def cmd_user_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        if args.if_no_users and users.count_users(session) > 0:
            print("users already exist; nothing created")
            return 0
        user, password = service.create_user(
            session,
            actor="cli",
            username=args.username,
            role=args.role,
            password=args.password,
            email=args.email,
        )
        username, role = user.username, user.role
    print(f"created {role} {username!r}")
    if args.password is None:
        print(f"password: {password}  (shown once; store it now)")
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        service.unlock_sign_in(session, actor="cli", username=args.username)
    print(f"sign-in unlocked for {args.username!r}")
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    user = commands.add_parser("user", help="local accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_create = user.add_parser("create", parents=[common], help="create a local account")
    user_create.add_argument("--username", required=True)
    user_create.add_argument("--role", choices=ROLES, default="viewer")
    user_create.add_argument(
        "--email", default="", help="where reminders of the register entries it owns go"
    )
    user_create.add_argument(
        "--password", help=f"at least {MIN_PASSWORD_LENGTH} characters; generated if omitted"
    )
    user_create.add_argument(
        "--if-no-users",
        action="store_true",
        help="do nothing when any account exists (first-run setup)",
    )
    user_create.set_defaults(func=cmd_user_create)
    user_unlock = user.add_parser(
        "unlock", parents=[common], help="lift an account's sign-in lock (too many failures)"
    )
    user_unlock.add_argument("--username", required=True)
    user_unlock.set_defaults(func=cmd_user_unlock)
