"""The dependency rule (agent -> signatures <- collector <- server) and the public surfaces."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import signatures

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "signatures", "collector", "server")
ALLOWED = {
    "agent": {"agent", "signatures"},
    "signatures": {"signatures"},
    "collector": {"collector", "signatures"},
    "server": {"server", "collector", "signatures"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_rule(package: str) -> None:
    violations = []
    for path in sorted((REPO / package).rglob("*.py")):
        for imported in _imports(path) & set(PACKAGES):
            if imported not in ALLOWED[package]:
                violations.append(f"{path.relative_to(REPO)} imports {imported}")
    assert violations == []


def test_the_walker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom server.app import create_app\nfrom . import sibling\n")
    assert _imports(bad) == {"os", "server"}


def test_signatures_exports_one_sorted_surface() -> None:
    # isort-style order, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def order(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert signatures.__all__ == sorted(signatures.__all__, key=order)
    public = {name for name in dir(signatures) if not name.startswith("_")}
    modules = {name for name in public if isinstance(getattr(signatures, name), type(signatures))}
    assert set(signatures.__all__) == public - modules


@pytest.mark.parametrize("package", ["agent", "collector", "server"])
def test_other_packages_import_signatures_from_its_root(package: str) -> None:
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("signatures.")
            ):
                offenders.append(f"{path.relative_to(REPO)}: from {node.module}")
    assert offenders == []
