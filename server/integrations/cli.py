"""`shadowmap integrations`: push the register to other systems."""

from __future__ import annotations

import argparse
import sys

from server.cli_support import Commands, sessions_for, settings_from


def cmd_ciso_assistant_push(args: argparse.Namespace) -> int:
    """Push approved and restricted register entries to CISO Assistant."""
    from server.integrations.ciso_assistant import CisoAssistantConnector

    settings = settings_from(args)
    connector = CisoAssistantConnector.from_settings(settings, sessions_for(settings))
    try:
        report = connector.push(dry_run=args.dry_run)
    finally:
        connector.close()
    for action in report.actions:
        print(action.describe(dry_run=report.dry_run))
    print(report.summary())
    if report.failures:
        # Every other object was pushed; these need a look (each line says why).
        print(f"{len(report.failures)} object(s) could not be pushed", file=sys.stderr)
        return 1
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    integrations = commands.add_parser(
        "integrations", help="push the register to other systems"
    ).add_subparsers(dest="integration", required=True, metavar="SYSTEM")
    ciso = integrations.add_parser(
        "ciso-assistant", help="CISO Assistant (docs/integrations.md)"
    ).add_subparsers(dest="ciso_assistant_command", required=True, metavar="ACTION")
    push = ciso.add_parser(
        "push",
        parents=[common],
        help="create or update assets, applied controls and evidence for approved and "
        "restricted entries",
    )
    push.add_argument(
        "--dry-run", action="store_true", help="only read CISO Assistant; say what would change"
    )
    push.set_defaults(func=cmd_ciso_assistant_push)
