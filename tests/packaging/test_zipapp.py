"""The zipapp: one file that runs the agent on any machine with Python 3.11."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_zipapp_builds_and_scans_on_a_plain_interpreter(tmp_path: Path) -> None:
    pytest.importorskip("shiv")
    built = subprocess.run(
        [str(REPO / "packaging" / "zipapp" / "build.sh"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert built.returncode == 0, built.stderr
    pyz = Path(built.stdout.strip().splitlines()[-1])
    names = zipfile.ZipFile(pyz).namelist()
    assert "site-packages/agent/cli.py" in names
    assert not any(
        name.startswith(("site-packages/collector/", "site-packages/server/")) for name in names
    )

    # A plain interpreter, outside the repository, with no access to the project's venv.
    python = shutil.which("python3.11") or sys.executable
    env = {"PATH": os.environ["PATH"], "SHIV_ROOT": str(tmp_path / "shiv"), "HOME": str(tmp_path)}
    version = subprocess.run(
        [python, "-I", str(pyz), "--version"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("shadowmap-agent ")
    scan = subprocess.run(
        [python, "-I", str(pyz), "scan", "--once", "--json", "--only", "processes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert scan.returncode == 0, scan.stderr
    assert isinstance(json.loads(scan.stdout)["findings"], list)
