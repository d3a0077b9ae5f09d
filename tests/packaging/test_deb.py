"""Build the .deb, install it for real with dpkg, run the installed agent, remove and purge it.

Needs root (dpkg installs into this machine) and dpkg-deb; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
CONF = Path("/etc/shadowmap-agent")
STATE = Path("/var/lib/shadowmap-agent")
PREFIX = Path("/opt/shadowmap-agent")
AGENT = PREFIX / "bin" / "shadowmap-agent"
UNIT = Path("/lib/systemd/system/shadowmap-agent.service")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _run(
    *args: str | Path, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=900, **kwargs
    )  # type: ignore[call-overload]
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture
def deb(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("installing a .deb needs root")
    if not shutil.which("dpkg-deb"):
        pytest.skip("no dpkg-deb on this machine")
    if _run("dpkg", "-s", "shadowmap-agent", check=False).returncode == 0:
        pytest.skip("shadowmap-agent is already installed here; not touching it")
    built = _run(REPO / "packaging" / "deb" / "build.sh", tmp_path / "out")
    package = Path(built.stdout.strip().splitlines()[-1])
    assert package.is_file()
    yield package
    _run("dpkg", "--purge", "shadowmap-agent", check=False)
    shutil.rmtree(CONF, ignore_errors=True)


def test_the_deb_installs_enrolls_runs_and_purges_cleanly(
    deb: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    contents = _run("dpkg-deb", "--contents", deb).stdout
    assert "./opt/shadowmap-agent/venv/" in contents
    assert "/collector/" not in contents and "/server/" not in contents  # the dependency rule

    # Preseed as IT would: server URL and enrollment token before the install.
    CONF.mkdir(parents=True, exist_ok=True)
    (CONF / "agent.env").write_text(f"SHADOWMAP_AGENT_SERVER_URL={live_server.url}\n")
    (CONF / "enroll-token").write_text(live_server.enrollment_token() + "\n")

    installed = _run("dpkg", "-i", deb)
    assert "systemd is not running" in installed.stderr or Path("/run/systemd/system").is_dir()

    # The postinst created the service user and enrolled as it, with tight permissions.
    user = pwd.getpwnam("shadowmap-agent")
    credential = STATE / "credential.json"
    assert credential.is_file(), installed.stderr
    assert credential.stat().st_uid == user.pw_uid
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert stat.S_IMODE(STATE.stat().st_mode) == 0o700
    assert (
        _run("dpkg-query", "-W", "-f=${Conffiles}", "shadowmap-agent")
        .stdout.strip()
        .startswith("/etc/shadowmap-agent/agent.toml")
    )

    # The installed agent scans on its own interpreter and packages.
    scan = _run(AGENT, "scan", "--once", "--json", cwd=tmp_path)
    document = json.loads(scan.stdout)
    assert document["catalogue_version"] and isinstance(document["findings"], list)
    isolated = _run(
        PREFIX / "venv" / "bin" / "python", "-I", "-c", "import collector", check=False, cwd=REPO
    )
    assert isolated.returncode != 0

    # One scheduled cycle as the service user, against the live collector.
    cycle = _run(
        "setpriv",
        "--reuid=shadowmap-agent",
        "--regid=shadowmap-agent",
        "--init-groups",
        "env",
        f"HOME={STATE}",
        f"SHADOWMAP_AGENT_SERVER_URL={live_server.url}",
        AGENT,
        "--config",
        CONF / "agent.toml",
        "run",
        "--cycles",
        "1",
        cwd="/",
    )
    assert cycle.returncode == 0
    with sqlite3.connect(live_server.data_dir / "shadowmap.db") as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM reports")]
    assert kinds == ["full"]

    # The unit is the hardened one.
    unit = UNIT.read_text()
    for line in (
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN CAP_DAC_READ_SEARCH",
        "User=shadowmap-agent",
    ):
        assert line in unit

    # Remove: program gone, conffile and identity kept (a reinstall keeps the agent id).
    _run("dpkg", "-r", "shadowmap-agent")
    assert not PREFIX.exists() and not UNIT.exists()
    assert (CONF / "agent.toml").exists() and (STATE / "identity.json").exists()

    # Purge: nothing left behind.
    _run("dpkg", "-P", "shadowmap-agent")
    for path in (PREFIX, CONF, STATE, UNIT):
        assert not path.exists(), f"{path} left behind"
    assert _run("getent", "passwd", "shadowmap-agent", check=False).returncode != 0
    assert _run("dpkg", "-s", "shadowmap-agent", check=False).returncode != 0
