"""`shadowmap audit verify`: walk the audit trail's hash chain."""

from __future__ import annotations

import argparse
import sys

from collector.db import transaction
from collector.store.audit import verify_audit_chain
from server.cli_support import Commands, sessions_for, settings_from


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit hash chain; exit 1 and name the first broken link if it does not hold."""
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        verdict = verify_audit_chain(session)
    if verdict.ok:
        print(f"audit chain intact: {verdict.checked} events verified; head {verdict.head}")
        return 0
    print(
        f"audit chain BROKEN at event #{verdict.broken_at}: {verdict.reason} "
        f"({verdict.checked} events before it verified)",
        file=sys.stderr,
    )
    return 1


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify", parents=[common], help="check the hash chain; report the first broken link"
    )
    audit_verify.set_defaults(func=cmd_audit_verify)
