"""The webhook tests' server may reach receivers on loopback: its allow-list names 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ServerSettings


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path, scheduler_enabled=False, outbound_allow="127.0.0.1/32")
