"""Shared fixtures of the scanner tests: the private test catalogue (the shipped one is global)."""

from __future__ import annotations

import pytest

from signatures import Matcher, load_catalogue
from tests.agent.scanners.helpers import FIXTURES


@pytest.fixture(scope="session")
def test_matcher() -> Matcher:
    return Matcher(load_catalogue(FIXTURES / "catalogue"))
