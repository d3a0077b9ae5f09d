"""Build the deb and the rpm with `shadowmap package`, install each for real on this machine,
watch the process list during the install, start the installed agent and see its report reach
a real collector on loopback, then remove and purge.

Needs root (the packages install into this machine), dpkg-deb and rpmbuild; skipped otherwise.
The frozen agent is built once for the module (PyInstaller, about a minute) and reused.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder, BuiltPackage
from tests.agent.test_reporter_tls import TlsCollector
from tests.e2e.conftest import LiveServer, run_cli

REPO = Path(__file__).resolve().parents[2]
CONF = Path("/etc/shadowmap-agent")
STATE = Path("/var/lib/shadowmap-agent")
PREFIX = Path("/opt/shadowmap-agent")
AGENT = PREFIX / "bin" / "shadowmap-agent"
UNIT = Path("/lib/systemd/system/shadowmap-agent.service")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def _run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=900, check=False
    )
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def builder(package_builder: Builder) -> Builder:
    if os.geteuid() != 0:
        pytest.skip("installing packages needs root")
    if not shutil.which("dpkg-deb"):
        pytest.skip("no dpkg-deb on this machine")
    if PREFIX.exists() or _run("dpkg", "-s", "shadowmap-agent", check=False).returncode == 0:
        pytest.skip("a shadowmap-agent is installed here; not touching it")
    return package_builder


class CommandLines:
    """Every process command line seen while it watches (/proc, every few milliseconds)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    raw = Path(entry.path, "cmdline").read_bytes()
                except OSError:
                    continue
                if raw:
                    self.seen.add(raw.replace(b"\0", b" ").decode(errors="replace"))
            time.sleep(0.002)

    def __enter__(self) -> CommandLines:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reports(server: LiveServer | TlsCollector) -> list[str]:
    with sqlite3.connect(server.data_dir / "shadowmap.db") as db:
        return [row[0] for row in db.execute("SELECT kind FROM reports")]


def _install_and_check(
    package: BuiltPackage,
    token: str,
    server: LiveServer | TlsCollector,
    install: list[str],
    tmp_path: Path,
) -> None:
    """Install with the process list watched; check modes; run the agent to a report."""
    with CommandLines() as watched:
        installed = _run(*install, package.path)
    # The install enrolled through the token file: the token was on no command line.
    enrolls = [line for line in watched.seen if " enroll " in line]
    assert enrolls, f"the watcher saw no enrollment: {installed.stderr}"
    assert any("--token-file /etc/shadowmap-agent/enroll-token" in line for line in enrolls), (
        enrolls
    )
    assert not [line for line in watched.seen if token in line]

    assert (STATE / "credential.json").is_file(), installed.stderr
    user = pwd.getpwnam("shadowmap-agent")
    for secret in (CONF / "enroll-token", STATE / "credential.json"):
        mode = secret.stat()
        assert stat.S_IMODE(mode.st_mode) == 0o600, secret
        assert mode.st_uid == user.pw_uid, secret
    assert stat.S_IMODE(STATE.stat().st_mode) == 0o700
    assert token not in (CONF / "agent.toml").read_text()
    assert stat.S_IMODE((CONF / "agent.toml").stat().st_mode) == 0o644

    # The installed agent is self-contained: it runs without the build's Python.
    version = _run(AGENT, "--version")
    assert version.stdout.startswith("shadowmap-agent ")
    # Start it as the unit does (as the service user) and see the report reach the collector.
    log = tmp_path / "agent.log"
    with log.open("w") as sink:
        agent = subprocess.Popen(
            [
                "setpriv",
                "--reuid=shadowmap-agent",
                "--regid=shadowmap-agent",
                "--init-groups",
                "env",
                f"HOME={STATE}",
                "SHADOWMAP_AGENT_SCAN_JITTER_FRACTION=0",
                "SHADOWMAP_AGENT_NETWORK_CAPTURE=false",
                str(AGENT),
                "--config",
                str(CONF / "agent.toml"),
                "run",
            ],
            cwd="/",
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            # The collector stored the report and the agent logged it (at the default level).
            while _reports(server) != ["full"] or "delivered report" not in log.read_text():
                assert agent.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            agent.terminate()
            agent.wait(timeout=30)


def _assert_nothing_left() -> None:
    for path in (PREFIX, CONF, STATE, UNIT):
        assert not path.exists(), f"{path} left behind"
    assert _run("getent", "passwd", "shadowmap-agent", check=False).returncode != 0


@pytest.fixture
def cleanup() -> Iterator[Callable[[], None]]:
    def purge() -> None:
        _run("dpkg", "--purge", "shadowmap-agent", check=False)
        if shutil.which("rpm"):
            _run("rpm", "-e", "--nodeps", "shadowmap-agent", check=False)
        for path in (PREFIX, CONF, STATE):
            shutil.rmtree(path, ignore_errors=True)
        _run("userdel", "shadowmap-agent", check=False)
        _run("groupdel", "shadowmap-agent", check=False)

    yield purge
    purge()


def test_the_deb_installs_enrolls_reports_and_purges_cleanly(
    builder: Builder, live_server: LiveServer, tmp_path: Path, cleanup: Callable[[], None]
) -> None:
    token = live_server.enrollment_token()
    (tmp_path / "secret").write_text(token)
    baked = BakedSettings.from_files(
        server_url=live_server.url, enroll_secret_file=tmp_path / "secret"
    )
    deb = builder.build_deb(baked, tmp_path / "out")
    contents = _run("dpkg-deb", "--contents", deb.path).stdout
    assert "./opt/shadowmap-agent/lib/shadowmap-agent" in contents
    assert "-rw------- root/root" in next(
        line for line in contents.splitlines() if line.endswith("etc/shadowmap-agent/enroll-token")
    )
    assert "/collector/" not in contents and "/server/" not in contents  # the dependency rule
    assert "./usr/share/doc/shadowmap-agent/copyright" in contents
    assert deb.installed_bytes <= 40 * 1024 * 1024, deb  # the 40 MB on disk

    _install_and_check(deb, token, live_server, ["dpkg", "-i"], tmp_path)
    assert _run("dpkg-query", "-W", "-f=${Conffiles}", "shadowmap-agent").stdout.count("/etc/") == 2

    # Remove: program gone, settings and identity kept (a reinstall keeps the agent id).
    _run("dpkg", "-r", "shadowmap-agent")
    assert not PREFIX.exists() and not UNIT.exists()
    assert (CONF / "agent.toml").exists() and (STATE / "identity.json").exists()
    # Purge: nothing left behind.
    _run("dpkg", "-P", "shadowmap-agent")
    _assert_nothing_left()


def test_the_rpm_installs_enrolls_behind_a_private_ca_reports_and_erases_cleanly(
    builder: Builder, tls_collector: TlsCollector, tmp_path: Path, cleanup: Callable[[], None]
) -> None:
    if not shutil.which("rpmbuild"):
        pytest.skip("no rpmbuild here (Debian: apt install rpm)")
    cleanup()
    token = run_cli(
        "server", "enroll-token", "create", "--quiet", "--data-dir", str(tls_collector.data_dir)
    ).stdout.strip()
    (tmp_path / "secret").write_text(token)
    # The collector's certificate comes from a private CA: install-time enrollment must use
    # the baked ca.pem, or it fails until the service retries.
    baked = BakedSettings.from_files(
        server_url=tls_collector.url,
        enroll_secret_file=tmp_path / "secret",
        ca_file=tls_collector.ca,
    )
    rpm = builder.build_rpm(baked, tmp_path / "out")
    requires = _run("rpm", "-qp", "--requires", rpm.path).stdout.split()
    assert "libpcap" in requires
    listing = _run("rpm", "-qp", "--dump", rpm.path).stdout
    token_line = next(line for line in listing.splitlines() if "enroll-token" in line)
    assert " 0100600 root root 1 " in token_line  # mode 0600, a config file
    # This Debian machine's rpm database knows neither libpcap nor shadow-utils by those names.
    _install_and_check(rpm, token, tls_collector, ["rpm", "-i", "--nodeps"], tmp_path)
    assert (CONF / "ca.pem").read_bytes() == tls_collector.ca.read_bytes()
    _run("rpm", "-e", "shadowmap-agent")
    _assert_nothing_left()
