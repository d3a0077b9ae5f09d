"""Shared fixtures: the shipped catalogue and its matcher, loaded once per session."""

from __future__ import annotations

import pytest

from signatures import Catalogue, Matcher, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def matcher(catalogue: Catalogue) -> Matcher:
    return Matcher(catalogue)
