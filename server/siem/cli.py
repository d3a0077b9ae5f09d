"""`shadowmap siem`: send queued security events now, and show each destination's state."""

from __future__ import annotations

import argparse

from collector.db import transaction
from collector.store import siem
from server.cli_support import Commands, sessions_for, settings_from
from server.siem.service import destinations_from, run_round


def cmd_send(args: argparse.Namespace) -> int:
    """Collect new events and send what is due (as the scheduler does)."""
    settings = settings_from(args)
    destinations = destinations_from(settings)
    if not destinations:
        print("no SIEM destination is set (siem_syslog_address, siem_ecs_file)")
        return 2
    done = run_round(settings, sessions_for(settings), destinations=destinations)
    print(f"collected {len(done.collected)} new event(s)")
    for result in done.deliveries:
        if result.error:
            print(f"{result.destination}: not sent, will retry: {result.error}")
        elif result.waiting:
            print(f"{result.destination}: backing off after a failure")
        else:
            print(f"{result.destination}: sent {result.sent} event(s)")
    return cmd_status(args)


def cmd_status(args: argparse.Namespace) -> int:
    """Print each destination's backlog, counters and last error."""
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        for state in siem.list_destination_states(session):
            backlog = siem.backlog_size(session, destination=state.destination)
            print(
                f"{state.destination}: {backlog} queued, {state.delivered} delivered, "
                f"{state.dropped} dropped (backlog full), {state.failures} failure(s) in a row"
                + (f", last error: {state.last_error}" if state.last_error else "")
            )
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser("siem", help="security events for a SIEM").add_subparsers(
        dest="siem_command", required=True, metavar="ACTION"
    )
    send = group.add_parser("send", parents=[common], help="collect and send events now")
    send.set_defaults(func=cmd_send)
    status = group.add_parser("status", parents=[common], help="backlog and counters")
    status.set_defaults(func=cmd_status)
