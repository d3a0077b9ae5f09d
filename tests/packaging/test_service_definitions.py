"""The service definitions IT deploys: systemd unit, launchd plist, Windows service, Ansible."""

from __future__ import annotations

import ast
import configparser
import plistlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.cli import build_parser
from agent.config import SETTINGS

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / "systemd" / "shadowmap-agent.service")
    return parser


def test_the_systemd_unit_is_hardened() -> None:
    service = _unit()["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["User"] == "shadowmap-agent"
    assert set(service["CapabilityBoundingSet"].split()) == {
        "CAP_NET_RAW",
        "CAP_NET_ADMIN",
        "CAP_DAC_READ_SEARCH",
    }
    assert service["AmbientCapabilities"] == service["CapabilityBoundingSet"]
    assert service["ProtectHome"] == "read-only"
    assert service["StateDirectory"] == "shadowmap-agent"
    for flag in ("PrivateTmp", "PrivateDevices", "ProtectKernelModules", "RestrictSUIDSGID"):
        assert service[flag] == "yes", flag
    assert service["ExecStart"].endswith("--config /etc/shadowmap-agent/agent.toml run")
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze here")
    # The real ExecStart exists once the .deb is installed (tests/packaging/test_linux_packages.py).
    unit = (PACKAGING / "systemd" / "shadowmap-agent.service").read_text()
    copy = tmp_path / "shadowmap-agent.service"
    copy.write_text(unit.replace("/opt/shadowmap-agent/bin/shadowmap-agent", "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "shadowmap-agent.service" in line
    ]
    assert complaints == []


def test_the_launchd_plist_runs_the_agent_in_service_mode() -> None:
    with (PACKAGING / "launchd" / "dev.shadowmap.agent.plist").open("rb") as handle:
        job = plistlib.load(handle)
    assert job["Label"] == "dev.shadowmap.agent"
    program, *arguments = job["ProgramArguments"]
    assert program.endswith("/bin/shadowmap-agent")
    # The arguments are ones the agent's own parser accepts.
    parsed = build_parser().parse_args(arguments)
    assert parsed.command == "run" and str(parsed.config).endswith("agent.toml")
    assert job["RunAtLoad"] is True and job["KeepAlive"] == {"SuccessfulExit": False}
    assert job["ProcessType"] == "Background" and job["LowPriorityIO"] is True
    assert set(job["EnvironmentVariables"]) <= {
        f"SHADOWMAP_AGENT_{s.name.upper()}" for s in SETTINGS
    }
    build = (PACKAGING / "launchd" / "build-pkg.sh").read_text()
    assert "pkgbuild" in build and "--require-hashes" in build
    # build-pkg.sh puts the frozen agent where the job starts it.
    assert 'PREFIX="$KIT/root/Library/Application Support/Shadowmap/agent"' in build
    assert program == "/Library/Application Support/Shadowmap/agent/bin/shadowmap-agent"


def test_the_windows_service_wraps_the_agent_service() -> None:
    source = (PACKAGING / "windows" / "shadowmap_agent_service.py").read_text()
    tree = ast.parse(source)
    service = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    methods = {node.name for node in service.body if isinstance(node, ast.FunctionDef)}
    assert {"SvcStop", "SvcDoRun"} <= methods
    assert "AgentService" in source and ".stop()" in source
    installer = (PACKAGING / "windows" / "install.ps1").read_text()
    for step in (
        "-m venv",
        "--require-hashes",
        'pywin32_postinstall.py") -install',
        "--startup auto install",
        "sc.exe failure",
        "icacls",
        "UTF8Encoding $false",  # no byte-order mark under Windows PowerShell 5.1
        "-TokenFile",
    ):
        assert step in installer, step
    assert "-Encoding utf8" not in installer
    # The folder is locked before the token is written into it.
    assert installer.index("Restrict-Acl $Data") < installer.index('"enroll-token"), $Token')
    assert "shadowmap_agent_service.py" in installer


def _tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat = []
    for task in tasks:
        flat.append(task)
        flat.extend(_tasks(task.get("block", [])))
    return flat


def test_the_ansible_playbook_is_check_mode_safe_idempotent_and_keeps_out_of_tmp() -> None:
    text = (PACKAGING / "ansible" / "shadowmap-agent.yml").read_text()
    (play,) = yaml.safe_load(text)
    tasks = {task["name"]: task for task in _tasks(play["tasks"])}
    assert "/tmp" not in text
    copy = tasks["Copy the package (it holds the enrollment token)"]["ansible.builtin.copy"]
    assert copy["mode"] == "0600" and copy["dest"].startswith("{{ shadowmap_cache }}/")
    assert play["vars"]["shadowmap_cache"] == "/var/cache/shadowmap-agent"
    cache = tasks["Create the package cache (root only)"]["ansible.builtin.file"]
    assert cache["mode"] == "0700"
    # --check: the install is skipped while the package is not on the host yet.
    install = tasks["Install the package (enrolls and starts the service)"]
    assert "not (ansible_check_mode and shadowmap_copied.changed)" in install["when"]
    assert tasks["Look for systemd"]["check_mode"] is False
    # Without systemd the play says so instead of failing.
    assert "shadowmap_systemd.stat.exists" in tasks["Keep the service running"]["when"]
    assert (
        "not shadowmap_systemd.stat.exists" in tasks["Say that this host runs no systemd"]["when"]
    )
    # Idempotent modules only: no command or shell task that would report "changed" each run.
    modules = {key for task in tasks.values() for key in task if key.startswith("ansible.")}
    assert not modules & {"ansible.builtin.command", "ansible.builtin.shell"}
    assert {"ansible.builtin.apt", "ansible.builtin.dnf"} <= modules


def test_deploy_docs_cover_every_channel() -> None:
    text = (REPO / "docs" / "deploy.md").read_text()
    for topic in ("dpkg", "Ansible", "Intune", "Jamf", "launchd", "zipapp", "install.ps1", "409"):
        assert topic in text, topic
