"""`shadowmap agent-release`: publish signed agent packages and steer their staged rollout."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import select

from collector.db import transaction
from collector.store import releases
from collector.store.agents import Agent
from server.agents import updates
from server.cli_support import Commands, sessions_for, settings_from
from server.errors import InvalidInput


def _tags(text: str | None) -> list[str] | None:
    return None if text is None else [tag for tag in text.split(",") if tag]


def cmd_publish(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        key = Path(args.signing_key).read_bytes()
    except OSError as exc:
        raise InvalidInput("signing-key", f"cannot read it: {exc}") from exc
    with transaction(sessions_for(settings)) as session:
        release = updates.publish(
            session,
            releases_dir=settings.data_dir / "agent-releases",
            package=Path(args.package),
            version=args.version,
            platform=args.platform,
            signing_key=key,
            percent=args.percent,
            tags=_tags(args.tags) or [],
        )
        print(
            f"published agent {release.version} for {release.platform}: offered to "
            f"{release.rollout_percent}% of agents"
            + (
                f" and hosts tagged {', '.join(release.rollout_tags)}"
                if release.rollout_tags
                else ""
            )
        )
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        release = updates.set_rollout(
            session,
            platform=args.platform,
            version=args.version,
            percent=args.percent,
            tags=_tags(args.tags),
            resume=args.resume,
        )
        print(
            f"agent {release.version} for {release.platform}: {release.state}, "
            f"{release.rollout_percent}%, tags {release.rollout_tags or '-'}"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with transaction(sessions_for(settings)) as session:
        agents = {agent.id: agent for agent in session.scalars(select(Agent)).all()}
        for release in releases.list_releases(session):
            print(
                f"{release.platform} {release.version}  {release.state}  "
                f"{release.rollout_percent}%  tags: {','.join(release.rollout_tags) or '-'}"
            )
            for row in releases.list_update_states(session, release_id=release.id):
                agent = agents.get(row.agent_id)
                if agent is None:
                    continue
                detail = f"  ({row.detail})" if row.detail else ""
                print(
                    f"  {agent.host.hostname}  {agent.agent_uid}  running "
                    f"{agent.host.agent_version or '?'}  {row.state}{detail}"
                )
    return 0


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    release = commands.add_parser(
        "agent-release", help="signed agent updates and their staged rollout"
    ).add_subparsers(dest="release_command", required=True, metavar="ACTION")
    publish = release.add_parser(
        "publish", parents=[common], help="sign an agent package and offer it to agents"
    )
    publish.add_argument("--package", required=True, help="the update package (.tar.gz)")
    publish.add_argument("--version", required=True, help="the agent version inside it")
    publish.add_argument("--platform", default="linux-x86_64", help="e.g. linux-x86_64")
    publish.add_argument(
        "--signing-key", required=True, help="Ed25519 private key (PEM) the agents trust"
    )
    publish.add_argument(
        "--percent", type=int, default=0, help="share of agents offered it first (0-100)"
    )
    publish.add_argument("--tags", help="hosts with any of these tags get it first")
    publish.set_defaults(func=cmd_publish)
    rollout = release.add_parser(
        "rollout", parents=[common], help="widen, narrow or resume a release's rollout"
    )
    rollout.add_argument("--version", required=True)
    rollout.add_argument("--platform", default="linux-x86_64")
    rollout.add_argument("--percent", type=int)
    rollout.add_argument("--tags")
    rollout.add_argument("--resume", action="store_true", help="resume a halted rollout")
    rollout.set_defaults(func=cmd_rollout)
    listing = release.add_parser(
        "list", parents=[common], help="releases and each agent's version and update state"
    )
    listing.set_defaults(func=cmd_list)
