"""The `shadowmap` command: run the server and administer it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from collector.db import current_revision, make_engine, upgrade
from collector.errors import CollectorError
from server import __version__, signatures_cli
from server.accounts import cli as accounts_cli
from server.agent_packages import cli as packages_cli
from server.agents import cli as agents_cli
from server.agents import release_cli
from server.audit import cli as audit_cli
from server.cli_support import common_options, sessions_for, settings_from
from server.errors import ServerError
from server.exports import cli as exports_cli
from server.integrations import cli as integrations_cli
from server.people import cli as people_cli
from server.register import cli as register_cli
from server.reports import cli as reports_cli
from server.siem import cli as siem_cli
from server.tokens import cli as tokens_cli


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = settings_from(args)
    engine = make_engine(settings.resolved_database_url())
    if args.migrate:
        upgrade(engine)
    from alembic.script import ScriptDirectory

    from collector.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current_revision(engine) != head:
        print(
            "error: the database schema is not up to date; run `shadowmap db upgrade` "
            "(or `shadowmap serve --migrate`)",
            file=sys.stderr,
        )
        return 2
    engine.dispose()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine, args.revision)
    print(f"database at revision {current_revision(engine)}")
    return 0


def cmd_db_prune(args: argparse.Namespace) -> int:
    from collector.retention import run_retention

    settings = settings_from(args)
    days = args.days if args.days is not None else settings.sighting_retention_days
    result = run_retention(sessions_for(settings), retention_days=days)
    print(
        f"pruned {result.sightings} sightings and {result.reports} report records older than "
        f"{days} days, and {result.daily_rows} trend rows; inventory roll-ups kept"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = common_options()

    parser = argparse.ArgumentParser(prog="shadowmap", description=__doc__)
    parser.add_argument("--version", action="version", version=f"shadowmap {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="overrides SHADOWMAP_HOST")
    serve.add_argument("--port", type=int, help="overrides SHADOWMAP_PORT")
    serve.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db_upgrade = db.add_parser("upgrade", parents=[common], help="migrate to the newest schema")
    db_upgrade.add_argument("--revision", default="head")
    db_upgrade.set_defaults(func=cmd_db_upgrade)
    db_prune = db.add_parser(
        "prune", parents=[common], help="delete raw sightings past the retention period"
    )
    db_prune.add_argument(
        "--days", type=int, help="overrides SHADOWMAP_SIGHTING_RETENTION_DAYS for this run"
    )
    db_prune.set_defaults(func=cmd_db_prune)

    # Each domain adds its own commands; this order is the order `shadowmap --help` lists.
    accounts_cli.add_commands(commands, common)
    agents_cli.add_enrollment_commands(commands, common)
    agents_cli.add_agent_commands(commands, common)
    signatures_cli.register(commands)
    agents_cli.add_import_command(commands, common)
    release_cli.add_commands(commands, common)
    audit_cli.add_commands(commands, common)
    register_cli.add_commands(commands, common)
    people_cli.add_commands(commands, common)
    exports_cli.add_commands(commands, common)
    tokens_cli.add_commands(commands, common)
    reports_cli.add_commands(commands, common)
    integrations_cli.add_commands(commands, common)
    siem_cli.add_commands(commands, common)
    packages_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (ServerError, CollectorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
