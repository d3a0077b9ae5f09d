"""Signed agent updates with a staged rollout: publish a release, offer it to a slice of the
fleet (a percentage of agents, or hosts with a tag), record what each agent did with it, and
halt the rollout when an agent had to roll it back.

The server never holds the signing key: `publish` signs with the key the operator gives and the
agents verify with the public key baked into their package, so a release altered here (or a
package swapped on disk) is refused there.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from collector.errors import NotFound
from collector.store import releases
from collector.store.agents import Agent
from collector.store.releases import AgentRelease, UpdateState
from server.errors import InvalidInput
from signatures import (
    BundleError,
    load_private_key,
    load_public_key,
    sign_release,
    verify_release_manifest,
    version_key,
)

MAX_PACKAGE_BYTES = 512 * 1024 * 1024
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")


@dataclass(frozen=True, slots=True)
class Offer:
    release: AgentRelease
    manifest: str


def rollout_bucket(agent_uid: str, version: str) -> int:
    """Place an agent in 0..99 for one release; stable, and independent between releases."""
    digest = hashlib.sha256(f"{agent_uid}\0{version}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def publish(
    session: Session,
    *,
    releases_dir: Path,
    package: Path,
    version: str,
    platform: str,
    signing_key: bytes,
    percent: int,
    tags: list[str],
) -> AgentRelease:
    """Sign a package and offer it to the fleet; raises InvalidInput or BundleError."""
    if not 0 <= percent <= 100:
        raise InvalidInput("percent", "must be between 0 and 100")
    try:
        version_key(version)
    except BundleError as exc:
        raise InvalidInput("version", exc.reason) from exc
    if not _FILENAME.match(package.name):
        raise InvalidInput("package", "the file name must be plain (letters, digits, . _ + -)")
    if not package.is_file() or package.stat().st_size > MAX_PACKAGE_BYTES:
        raise InvalidInput("package", f"not a file of at most {MAX_PACKAGE_BYTES} bytes")
    if releases.get_release(session, platform=platform, version=version) is not None:
        raise InvalidInput("version", f"{version} is already published for {platform}")
    data = package.read_bytes()
    manifest = sign_release(
        version=version,
        platform=platform,
        package=data,
        filename=package.name,
        private_key=load_private_key(signing_key),
    )
    target = releases_dir / platform / version / package.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(package, target)
    return releases.create_release(
        session,
        version=version,
        platform=platform,
        manifest=manifest.decode(),
        package_path=str(target),
        rollout_percent=percent,
        rollout_tags=sorted(set(tags)),
    )


def set_rollout(
    session: Session,
    *,
    platform: str,
    version: str,
    percent: int | None,
    tags: list[str] | None,
    resume: bool,
) -> AgentRelease:
    """Widen or narrow a rollout, or resume a halted one; raises NotFound or InvalidInput."""
    release = releases.get_release(session, platform=platform, version=version)
    if release is None:
        raise NotFound("agent release", f"{platform} {version}")
    if percent is not None:
        if not 0 <= percent <= 100:
            raise InvalidInput("percent", "must be between 0 and 100")
        release.rollout_percent = percent
    if tags is not None:
        release.rollout_tags = sorted(set(tags))
    if resume:
        release.state = "rolling-out"
    session.flush()
    return release


def _eligible(release: AgentRelease, agent: Agent, tags: set[str]) -> bool:
    if tags & set(release.rollout_tags):
        return True
    return rollout_bucket(agent.agent_uid, release.version) < release.rollout_percent


def offer_for(
    session: Session, *, agent: Agent, platform: str, running: str, tags: set[str]
) -> Offer | None:
    """Return the newest release this agent should install now, or None.

    An agent reporting the release's version has installed it; one that refused or rolled a
    release back is not offered it again; a halted release is offered to nobody new.
    """
    try:
        running_key = version_key(running)
    except BundleError as exc:
        raise InvalidInput("version", exc.reason) from exc
    for release in reversed(releases.list_releases(session, platform=platform)):
        state = releases.get_update_state(session, agent_id=agent.id, release_id=release.id)
        if release.version == running:
            if state is not None and state.state != "installed":
                releases.upsert_update_state(
                    session, agent_id=agent.id, release_id=release.id, state="installed"
                )
            return None
        if version_key(release.version) <= running_key:
            continue
        if state is not None and state.state in ("refused", "rolled-back"):
            continue
        if release.state != "rolling-out" and state is None:
            continue
        if state is None and not _eligible(release, agent, tags):
            continue
        if state is None:
            releases.upsert_update_state(
                session, agent_id=agent.id, release_id=release.id, state="offered"
            )
        return Offer(release=release, manifest=release.manifest)
    return None


def package_for(session: Session, *, agent: Agent, release_id: int) -> Path:
    """Return the package file of a release offered to this agent; raises NotFound."""
    release = releases.get_release_by_id(session, release_id=release_id)
    if release is None or (
        releases.get_update_state(session, agent_id=agent.id, release_id=release_id) is None
    ):
        raise NotFound("agent release", str(release_id))
    return Path(release.package_path)


def record_outcome(
    session: Session,
    *,
    agent: Agent,
    platform: str,
    version: str,
    state: UpdateState,
    detail: str,
) -> AgentRelease:
    """Record an agent's refusal or rollback of a release; a rollback halts the rollout."""
    release = releases.get_release(session, platform=platform, version=version)
    if release is None:
        raise NotFound("agent release", f"{platform} {version}")
    releases.upsert_update_state(
        session, agent_id=agent.id, release_id=release.id, state=state, detail=detail
    )
    if state == "rolled-back":
        release.state = "halted"
    session.flush()
    return release


def check_manifest(release: AgentRelease, public_key_pem: bytes) -> None:
    """Verify a stored release with a public key (the admin's check before widening)."""
    verify_release_manifest(release.manifest.encode(), load_public_key(public_key_pem))
