"""Signed self-updates: fetch a release the collector offers, verify it with the pinned key,
install it beside the running version, restart into it, and roll it back if it does not report.

Layout under ``<state_dir>/updates`` (shared with packaging/linux/launcher.sh, which starts the
agent): ``versions/<version>/`` each unpacked release; ``current`` a symlink to the one to run;
``pending`` "<version> <deadline>" until the new version delivered a report; ``previous`` the
version to return to; ``starts`` how often the pending version was started; ``rolled-back``
"<version> <reason>" until the collector was told.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import CollectorRefused, CollectorUnreachable
from agent.identity import Credential
from agent.reporter import Reporter
from signatures import (
    BundleError,
    load_public_key,
    verify_release_manifest,
    verify_release_package,
    version_key,
)

if TYPE_CHECKING:  # cryptography loads only when an update key is configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: the service manager starts the agent again
EXECUTABLE = "shadowmap-agent.exe" if os.name == "nt" else "shadowmap-agent"
MAX_PACKAGE_BYTES = 512 * 1024 * 1024
_MACHINES = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}


def platform_name() -> str:
    """This machine's release platform, e.g. linux-x86_64."""
    system = {"win32": "windows", "darwin": "darwin"}.get(sys.platform, "linux")
    machine = platform.machine().lower()
    return f"{system}-{_MACHINES.get(machine, machine)}"


@dataclass
class Updater:
    """One agent's update state machine (see the module docstring for the files it keeps)."""

    updates_dir: Path
    # The pinned key, or its PEM (or raw) bytes, read into a key (loading cryptography, about
    # 10 MB of resident memory) only when an update is offered.
    public_key: Ed25519PublicKey | bytes
    running_version: str
    tags: str = ""
    confirm_seconds: float = 900.0
    platform: str = field(default_factory=platform_name)
    clock: Callable[[], float] = time.time

    def _read(self, name: str) -> str:
        try:
            return (self.updates_dir / name).read_text().strip()
        except OSError:
            return ""

    def _write(self, name: str, text: str) -> None:
        path = self.updates_dir / name
        temporary = path.with_name(name + ".tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, path)

    def _point_current(self, version: str | None) -> None:
        current = self.updates_dir / "current"
        if version is None:
            current.unlink(missing_ok=True)
            return
        link = self.updates_dir / "current.new"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("versions") / version)
        os.replace(link, current)

    def roll_back(self, reason: str) -> str:
        """Return to the previous version; returns the version rolled back."""
        version = self._read("pending").split(" ")[0]
        previous = self._read("previous")
        runnable = previous and (self.updates_dir / "versions" / previous / EXECUTABLE).exists()
        self._point_current(previous if runnable else None)
        self._write("rolled-back", f"{version} {reason}")
        for name in ("pending", "starts"):
            (self.updates_dir / name).unlink(missing_ok=True)
        log.error("agent update %s rolled back: %s", version, reason)
        return version

    def after_cycle(self, reporter: Reporter, credential: Credential, delivered: bool) -> bool:
        """Confirm, roll back or install after a scan cycle; True asks for a restart."""
        self.updates_dir.mkdir(mode=0o700, exist_ok=True)
        self._report_rollback(reporter, credential)
        pending = self._read("pending").split(" ")
        if pending[0] == self.running_version:
            if delivered:
                for name in ("pending", "starts"):
                    (self.updates_dir / name).unlink(missing_ok=True)
                log.info("agent update %s confirmed: it delivered a report", pending[0])
                # The check below tells the collector which version now runs here.
            else:
                deadline = float(pending[1]) if len(pending) > 1 else 0.0
                if self.clock() > deadline:
                    self.roll_back(f"no report delivered within {self.confirm_seconds:.0f} s")
                    return True
                return False
        try:
            offer = reporter.check_update(
                credential, platform=self.platform, version=self.running_version, tags=self.tags
            )
        except (CollectorUnreachable, CollectorRefused) as exc:
            log.warning("cannot check for an agent update: %s", exc)
            return False
        if offer is None:
            return False
        version = str(offer.get("version", ""))
        try:
            if isinstance(self.public_key, bytes):
                self.public_key = load_public_key(self.public_key)
            manifest = verify_release_manifest(
                str(offer.get("manifest", "")).encode(), self.public_key
            )
            if manifest.platform != self.platform or manifest.version != version:
                raise BundleError(
                    f"the signed release is {manifest.version} for {manifest.platform}, "
                    f"not {version} for {self.platform}"
                )
            if version_key(manifest.version) <= version_key(self.running_version):
                raise BundleError(f"{manifest.version} is not newer than {self.running_version}")
            package = reporter.download(
                credential,
                str(offer.get("package_url", "")),
                limit=min(manifest.size, MAX_PACKAGE_BYTES),
            )
            verify_release_package(manifest, package)
            self._install(manifest.version, package)
        except (BundleError, tarfile.TarError, OSError) as exc:
            log.error("refused agent update %s: %s", version, exc)
            self._tell(reporter, credential, version, "refused", str(exc))
            return False
        except (CollectorUnreachable, CollectorRefused) as exc:
            log.warning("cannot download agent update %s: %s", version, exc)
            return False
        log.info("installed agent update %s; restarting into it", version)
        return True

    def _install(self, version: str, package: bytes) -> None:
        versions = self.updates_dir / "versions"
        versions.mkdir(exist_ok=True)
        staging = versions / f".{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        archive = self.updates_dir / "download.tar.gz"
        archive.write_bytes(package)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(staging, filter="data")
        finally:
            archive.unlink(missing_ok=True)
        if not (staging / EXECUTABLE).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise BundleError(f"the package has no {EXECUTABLE} at its top")
        target = versions / version
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        current = self.updates_dir / "current"
        previous = os.readlink(current).split("/")[-1] if current.is_symlink() else ""
        self._write("previous", previous)
        self._write("starts", "0")
        self._write("pending", f"{version} {self.clock() + self.confirm_seconds:.0f}")
        self._point_current(version)

    def _report_rollback(self, reporter: Reporter, credential: Credential) -> None:
        text = self._read("rolled-back")
        if not text:
            return
        version, _, reason = text.partition(" ")
        if self._tell(reporter, credential, version, "rolled-back", reason):
            (self.updates_dir / "rolled-back").unlink(missing_ok=True)

    def _tell(
        self, reporter: Reporter, credential: Credential, version: str, state: str, detail: str
    ) -> bool:
        try:
            reporter.post_update_outcome(
                credential, platform=self.platform, version=version, state=state, detail=detail
            )
        except (CollectorUnreachable, CollectorRefused) as exc:
            log.warning("cannot tell the collector about update %s: %s", version, exc)
            return False
        return True
