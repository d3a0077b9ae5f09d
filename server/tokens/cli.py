"""`shadowmap api-token`: API tokens with scopes (the API's /api/v1/tokens offers the same)."""

from __future__ import annotations

import argparse
import datetime as dt

from collector.db import transaction
from collector.store import tokens
from collector.store.tokens import SCOPES
from server.cli_support import Commands, parse_duration, sessions_for, settings_from


def cmd_api_token_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    expires = dt.datetime.now(dt.UTC) + args.expires if args.expires else None
    with transaction(sessions_for(settings)) as session:
        token, secret = tokens.create_api_token(
            session, name=args.name, scopes=args.scope, expires_at=expires, created_by="cli"
        )
        token_id, scopes = token.id, token.scopes
    if args.quiet:
        print(secret)
    else:
        print(f"API token #{token_id} {args.name!r} scopes {' '.join(scopes)}: {secret}")
        print("  shown once; send it as `Authorization: Bearer <token>`")
    return 0


def cmd_api_token_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        for token in tokens.list_api_tokens(session):
            status = "revoked" if token.revoked_at else "active"
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            used = token.last_used_at.isoformat() if token.last_used_at else "never"
            print(
                f"#{token.id}\t{token.name}\t{status}\t{' '.join(token.scopes)}"
                f"\texpires {expires}\tlast used {used}"
            )
    return 0


def cmd_api_token_revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        tokens.revoke_api_token(session, token_id=args.id)
    print(f"revoked API token #{args.id}")
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    api_token = commands.add_parser("api-token", help="API tokens with scopes").add_subparsers(
        dest="api_token_command", required=True, metavar="ACTION"
    )
    create = api_token.add_parser("create", parents=[common], help="create a token")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope", action="append", required=True, choices=SCOPES, help="repeat for several"
    )
    create.add_argument("--expires", type=parse_duration, help="lifetime, e.g. 90d")
    create.add_argument("--quiet", action="store_true", help="print only the token")
    create.set_defaults(func=cmd_api_token_create)
    listing = api_token.add_parser("list", parents=[common], help="list tokens (never secrets)")
    listing.set_defaults(func=cmd_api_token_list)
    revoke = api_token.add_parser("revoke", parents=[common], help="revoke a token")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_api_token_revoke)
