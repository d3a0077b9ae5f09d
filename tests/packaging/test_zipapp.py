"""The zipapp: one file that runs on CPython 3.11 to 3.14 with no network and no pip, and tells
an older interpreter clearly that it cannot."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from server.agent_packages.build import BakedSettings, Builder

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _interpreter(minor: str) -> str | None:
    """A CPython of this minor: pyenv's builds first (its shims need a version selected)."""
    pyenv = Path.home() / ".pyenv" / "versions"
    for version in sorted(pyenv.glob(f"{minor}.*"), reverse=True):
        if (version / "bin" / "python").exists():
            return str(version / "bin" / "python")
    found = shutil.which(f"python{minor}")
    if found is not None and "/shims/" not in found:
        return found
    if sys.version_info[:2] == tuple(int(part) for part in minor.split(".")):
        return sys.executable
    return None


def test_the_zipapp_runs_on_every_supported_python_and_refuses_older_ones(
    package_builder: Builder, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("smet_" + "z" * 30)
    baked = BakedSettings.from_files(
        server_url="https://collector.example.com", enroll_secret_file=tmp_path / "secret"
    )
    built = package_builder.build_zipapp(baked, tmp_path / "out")
    bundle = tmp_path / "out" / "shadowmap-agent-0.1.0-zipapp"
    pyz = bundle / "shadowmap-agent.pyz"
    names = zipfile.ZipFile(pyz).namelist()
    assert "site-packages/agent/cli.py" in names
    assert not any(
        name.startswith(("site-packages/collector/", "site-packages/server/")) for name in names
    )
    # One PyYAML C extension per supported minor, side by side.
    for tag in ("cpython-311", "cpython-312", "cpython-313"):
        assert any("yaml/_yaml." + tag in name for name in names), tag
    assert stat.S_IMODE((bundle / "enroll-token").stat().st_mode) == 0o600
    assert built.size_bytes > 0

    env = {"PATH": os.environ["PATH"], "SHIV_ROOT": str(tmp_path / "shiv"), "HOME": str(tmp_path)}
    ran = []
    for minor in ("3.11", "3.12", "3.13"):
        python = _interpreter(minor)
        if python is None:
            continue
        scan = subprocess.run(
            [python, "-I", str(pyz), "scan", "--once", "--json", "--only", "processes"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        assert scan.returncode == 0, (minor, scan.stderr)
        assert isinstance(json.loads(scan.stdout)["findings"], list)
        ran.append(minor)
    assert ran, "no supported CPython found to run the zipapp"

    old = _interpreter("3.10")
    if old is not None:
        refused = subprocess.run(
            [old, "-I", str(pyz), "--version"], capture_output=True, text=True, env=env, timeout=60
        )
        assert refused.returncode == 3
        assert "runs on CPython 3.11 to 3.14, not 3.10" in refused.stderr
