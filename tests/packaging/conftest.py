"""Packaging tests reuse the real server process fixture of the end-to-end suite, and one
package builder per session (its build environment and frozen agent are made once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.agent_packages.build import Builder
from tests.agent.test_reporter_tls import tls_collector  # noqa: F401 - a fixture, used by name
from tests.e2e.conftest import live_server  # noqa: F401 - a fixture, used by name

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def package_builder(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    # SHADOWMAP_PACKAGE_WORK_DIR keeps the build environment between runs (developers).
    kept = os.environ.get("SHADOWMAP_PACKAGE_WORK_DIR")
    work = Path(kept) if kept else tmp_path_factory.mktemp("package-work")
    return Builder(repo=REPO, work_dir=work)
