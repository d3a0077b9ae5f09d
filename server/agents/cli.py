"""`shadowmap enroll-token` (agent enrollment tokens) and `shadowmap import-logs` (DNS and
proxy logs ingested like agent reports)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from collector.db import transaction
from collector.store import agents
from server.cli_support import Commands, parse_duration, sessions_for, settings_from


def cmd_token_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    expires = dt.datetime.now(dt.UTC) + args.expires if args.expires else None
    with transaction(sessions_for(settings)) as session:
        token, secret = agents.create_enrollment_token(
            session, name=args.name, expires_at=expires, max_uses=args.uses
        )
        token_id = token.id
    if args.quiet:
        print(secret)
    else:
        print(f"enrollment token #{token_id} {args.name!r}: {secret}")
        print("  shown once; give it to `shadowmap-agent enroll --token ...`")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        for token in agents.list_enrollment_tokens(session):
            status = "revoked" if token.revoked_at else "active"
            limit = "unlimited" if token.max_uses is None else str(token.max_uses)
            expires = token.expires_at.isoformat() if token.expires_at else "never"
            print(
                f"#{token.id}\t{token.name}\t{status}\tuses {token.uses}/{limit}\texpires {expires}"
            )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        agents.revoke_enrollment_token(session, token_id=args.id)
    print(f"revoked enrollment token #{args.id}")
    return 0


def add_enrollment_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    token = commands.add_parser("enroll-token", help="agent enrollment tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    token_create = token.add_parser("create", parents=[common], help="create a token")
    token_create.add_argument("--name", default="default")
    token_create.add_argument("--uses", type=int, help="how many agents may use it")
    token_create.add_argument("--expires", type=parse_duration, help="lifetime, e.g. 7d")
    token_create.add_argument("--quiet", action="store_true", help="print only the token")
    token_create.set_defaults(func=cmd_token_create)
    token_list = token.add_parser("list", parents=[common], help="list tokens (never secrets)")
    token_list.set_defaults(func=cmd_token_list)
    token_revoke = token.add_parser("revoke", parents=[common], help="revoke a token")
    token_revoke.add_argument("id", type=int)
    token_revoke.set_defaults(func=cmd_token_revoke)


# Enrolled agents ------------------------------------------------------------------------------


def cmd_agent_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        for agent in agents.list_agents(session):
            status = "revoked" if agent.revoked_at else "active"
            if agent.reenroll_approved_until:
                status += ", re-enrollment approved"
            seen = agent.last_seen_at.isoformat() if agent.last_seen_at else "never"
            print(
                f"#{agent.id}\t{agent.agent_uid}\t{agent.host.hostname}\t{status}\tlast seen {seen}"
            )
    return 0


def cmd_agent_revoke(args: argparse.Namespace) -> int:
    from server.agents import service

    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        agent = service.revoke_agent(session, actor="cli", agent_id=args.id)
        uid = agent.agent_uid
    print(f"revoked agent #{args.id} ({uid}); it cannot report or enroll again without approval")
    return 0


def cmd_agent_approve(args: argparse.Namespace) -> int:
    from server.agents import service

    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        agent = service.approve_reenrollment(session, actor="cli", agent_id=args.id)
        uid = agent.agent_uid
        until = agent.reenroll_approved_until
    print(f"agent #{args.id} ({uid}) may enroll again once, until {until:%Y-%m-%d %H:%M} UTC")
    return 0


def add_agent_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    agent = commands.add_parser("agent", help="enrolled agents").add_subparsers(
        dest="agent_command", required=True, metavar="ACTION"
    )
    agent_list = agent.add_parser("list", parents=[common], help="list enrolled agents")
    agent_list.set_defaults(func=cmd_agent_list)
    revoke = agent.add_parser(
        "revoke", parents=[common], help="revoke an agent's credential (by its # number)"
    )
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_agent_revoke)
    approve = agent.add_parser(
        "approve-reenroll",
        parents=[common],
        help="let an agent id enroll again once without its credential (within 7 days)",
    )
    approve.add_argument("id", type=int)
    approve.set_defaults(func=cmd_agent_approve)


# Log import ----------------------------------------------------------------------------------


def _progress_bar(label: str) -> Callable[[int, int], None]:
    """Return a progress callback drawing a bar on stderr (only when it is a terminal)."""
    last = [-1]

    def update(done: int, total: int) -> None:
        if not sys.stderr.isatty() or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent == last[0]:
            return
        last[0] = percent
        filled = percent // 4
        sys.stderr.write(
            f"\r{label} [{'#' * filled}{' ' * (25 - filled)}] {percent:3d}% "
            f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        if percent == 100:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update


def cmd_import_logs(args: argparse.Namespace) -> int:
    # Imported here: the ingest path is more than the other commands need to start.
    from server.agents import service
    from signatures import load_catalogue

    settings = settings_from(args)
    result = service.import_log(
        sessions_for(settings),
        load_catalogue(settings.catalogue_dir),
        path=args.file,
        fmt=args.format,
        progress=_progress_bar(f"importing {args.file.name}"),
    )
    print(
        f"imported {args.file}: {result.clients} client(s), {result.findings} AI finding(s); "
        f"{result.stats}"
    )
    return 0


def add_import_command(commands: Commands, common: argparse.ArgumentParser) -> None:
    from collector.logimport import FORMATS

    import_logs = commands.add_parser(
        "import-logs",
        parents=[common],
        help="import a DNS or proxy log; its AI lookups land in the inventory by client",
    )
    import_logs.add_argument("--format", required=True, choices=sorted(FORMATS))
    import_logs.add_argument("file", type=Path)
    import_logs.set_defaults(func=cmd_import_logs)
