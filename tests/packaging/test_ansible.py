"""The Ansible playbook for real, against this machine: --check changes nothing and does not
fail, the first run installs and enrolls, the second changes nothing, `absent` purges."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder
from tests.e2e.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "packaging" / "ansible" / "shadowmap-agent.yml"
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def _play(*extra: str) -> tuple[dict[str, int], str]:
    result = subprocess.run(
        [
            str(ANSIBLE),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(PLAYBOOK),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "False"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recap = re.search(r"localhost\s+:\s+(.*)", result.stdout)
    assert recap is not None, result.stdout
    counts = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", recap.group(1))}
    return counts, result.stdout


def test_the_playbook_checks_installs_idempotently_and_purges(
    package_builder: Builder, live_server: LiveServer, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or not shutil.which("dpkg"):
        pytest.skip("the playbook installs a .deb here: needs root and dpkg")
    if not ANSIBLE.exists():
        pytest.skip("ansible-core is not installed (the dev extra brings it)")
    if Path("/opt/shadowmap-agent").exists():
        pytest.skip("a shadowmap-agent is installed here; not touching it")
    (tmp_path / "secret").write_text(live_server.enrollment_token())
    baked = BakedSettings.from_files(
        server_url=live_server.url, enroll_secret_file=tmp_path / "secret"
    )
    deb = package_builder.build_deb(baked, tmp_path / "out").path
    package = f"shadowmap_package={deb}"
    try:
        checked, _ = _play("-e", package, "--check")
        assert checked["failed"] == 0 and not Path("/opt/shadowmap-agent").exists()

        first, output = _play("-e", package)
        assert first["changed"] >= 2  # the copy and the install
        assert Path("/var/lib/shadowmap-agent/credential.json").is_file()
        if not Path("/run/systemd/system").is_dir():
            assert "systemd is not running on this host" in output

        second, _ = _play("-e", package)
        assert second["changed"] == 0

        gone, _ = _play("-e", "shadowmap_state=absent")
        assert gone["changed"] >= 1
        for path in ("/opt/shadowmap-agent", "/etc/shadowmap-agent", "/var/cache/shadowmap-agent"):
            assert not Path(path).exists(), path
        assert not any(Path("/tmp").glob("shadowmap-agent*.deb"))
    finally:
        subprocess.run(["dpkg", "--purge", "shadowmap-agent"], capture_output=True, check=False)
        shutil.rmtree("/var/cache/shadowmap-agent", ignore_errors=True)
