"""The MSI (wixl): its tables install the agent, its runtime and a Windows service, lock the
secret's folder before the secret is copied, and the agent inside runs under Wine.

The MSI carries CPython's Windows embeddable runtime, which no package registry reachable from
this build ships: give its zip in SHADOWMAP_WINDOWS_RUNTIME (python-3.11.x-embed-amd64.zip from
python.org) to run this test; it is skipped otherwise (docs/deploy.md, "Windows").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
# Read at import: the suite's autouse fixture clears SHADOWMAP_* before each test.
GIVEN_RUNTIME = os.environ.get("SHADOWMAP_WINDOWS_RUNTIME")


def _table(msi: Path, name: str) -> list[list[str]]:
    exported = subprocess.run(
        ["msiinfo", "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line.split("\t") for line in exported[3:]]


@pytest.fixture
def runtime() -> Path:
    given = GIVEN_RUNTIME
    if not given:
        pytest.skip("SHADOWMAP_WINDOWS_RUNTIME (CPython's Windows embeddable zip) is not set")
    if not (shutil.which("wixl") and shutil.which("msiinfo") and shutil.which("msiextract")):
        pytest.skip("wixl and msitools are not installed")
    return Path(given)


def test_the_msi_installs_a_service_and_locks_the_secret(
    package_builder: Builder, runtime: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("smet_" + "w" * 30)
    baked = BakedSettings.from_files(
        server_url="https://collector.example.com", enroll_secret_file=tmp_path / "secret"
    )
    built = package_builder.build_msi(baked, tmp_path / "out", windows_runtime=runtime)

    (service,) = _table(built.path, "ServiceInstall")
    assert service[1] == "ShadowmapAgent" and service[4] == "2"  # auto start
    assert service[8] == "LocalSystem"
    components = {row[0]: row for row in _table(built.path, "Component")}
    files = {row[0]: row for row in _table(built.path, "File")}
    key_file = components[service[11]][5]
    assert files[key_file][2].endswith("pythonservice.exe")
    registry = [row for row in _table(built.path, "Registry") if row[2].endswith("PythonClass")]
    assert registry[0][4].endswith("shadowmap_agent_service.ShadowmapAgentService")
    sequence = {row[0]: int(row[2]) for row in _table(built.path, "InstallExecuteSequence")}
    assert sequence["CreateFolders"] < sequence["LockConfig"] < sequence["InstallFiles"]
    (action,) = [row for row in _table(built.path, "CustomAction") if row[0] == "LockConfig"]
    assert "/inheritance:r" in action[3] and "*S-1-5-32-545" not in action[3]  # not Users

    extracted = tmp_path / "extracted"
    subprocess.run(
        ["msiextract", "-C", str(extracted), str(built.path)], check=True, capture_output=True
    )
    config = extracted / "Shadowmap"
    assert 'server_url = "https://collector.example.com"' in (config / "agent.toml").read_text()
    assert (config / "enroll-token").read_text().strip() == "smet_" + "w" * 30
    program = next(path.parent for path in extracted.rglob("python.exe"))
    assert (program / "Lib" / "site-packages" / "agent" / "cli.py").is_file()
    assert not (program / "Lib" / "site-packages" / "server").exists()

    wine = shutil.which("wine64") or shutil.which("wine")
    if wine is None:
        return
    # The Windows build of the agent under Wine: scan a Windows-layout root.
    root = tmp_path / "windows-root"
    profile = root / "Users" / "alice" / "AppData" / "Roaming" / "Code" / "User"
    profile.mkdir(parents=True)
    scan = subprocess.run(
        [
            wine,
            str(program / "python.exe"),
            "-m",
            "agent",
            "scan",
            "--once",
            "--json",
            "--root",
            str(root),
            "--hostname",
            "WINE-TEST",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(tmp_path / "wine")},
    )
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["host"]["hostname"] == "WINE-TEST"
