"""What the `shadowmap` subcommands of every domain share: the common options, settings from
the command line, a database session factory and durations such as "7d"."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import TypeAlias

from sqlalchemy.orm import Session, sessionmaker

from collector.db import make_engine, make_sessionmaker
from server.config import ServerSettings, load_settings

#: The sub-parser collection a domain adds its commands to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_DURATION = re.compile(r"^(\d+)([mhd])$")


def common_options() -> argparse.ArgumentParser:
    """Return the parent parser of the options every database command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", dest="data_dir", help="overrides SHADOWMAP_DATA_DIR")
    common.add_argument(
        "--database-url", dest="database_url", help="overrides SHADOWMAP_DATABASE_URL"
    )
    return common


def parse_duration(text: str) -> dt.timedelta:
    """Parse "30m", "12h" or "7d"."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 12h or 7d")
    amount, unit = int(found.group(1)), found.group(2)
    if amount <= 0:
        # "0d" would otherwise read as "no lifetime given": a token that never expires.
        raise argparse.ArgumentTypeError(f"{text!r}: a lifetime must be longer than zero")
    return {
        "m": dt.timedelta(minutes=amount),
        "h": dt.timedelta(hours=amount),
        "d": dt.timedelta(days=amount),
    }[unit]


def settings_from(args: argparse.Namespace) -> ServerSettings:
    """Return the settings from the environment with the command line's overrides."""
    overrides: dict[str, object] = {}
    for name in ("data_dir", "database_url", "host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return load_settings(**overrides)


def sessions_for(settings: ServerSettings) -> sessionmaker[Session]:
    """Return a session factory on the configured database."""
    return make_sessionmaker(make_engine(settings.resolved_database_url()))
