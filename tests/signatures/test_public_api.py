"""The package root is the public surface: ``__all__`` is sorted and complete."""

from __future__ import annotations

import importlib
import inspect

import signatures


def _isort_key(name: str) -> tuple[int, str]:
    # ruff RUF022 order: SCREAMING_CASE constants, then CamelCase classes, then functions.
    if name.isupper():
        return (0, name)
    if name[0].isupper():
        return (1, name)
    return (2, name)


def test_all_is_sorted() -> None:
    assert list(signatures.__all__) == sorted(signatures.__all__, key=_isort_key)


def test_all_matches_the_public_names() -> None:
    public = {
        name
        for name in vars(signatures)
        if not name.startswith("_") and not inspect.ismodule(getattr(signatures, name))
    }
    assert set(signatures.__all__) == public


def test_every_exported_name_resolves() -> None:
    module = importlib.import_module("signatures")
    for name in signatures.__all__:
        assert getattr(module, name) is not None
