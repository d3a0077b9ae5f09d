"""The architecture, checked: the dependency rule (agent -> signatures <- collector <- server),
the public surfaces, no private name used across modules, no route module under a service."""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield _module_name(path), path


def _is_project_module(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(module: str, source: str) -> list[str]:
    """Return each use, in ``source`` (the text of ``module``), of another module's private name.

    Two shapes count: ``from other import _name`` and ``other._name`` where ``other`` is a
    project module bound by an import. A module may use its own private names, and a package's
    ``__init__`` is the same module as the package.
    """
    tree = ast.parse(source)
    found: list[str] = []
    bound_modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_project_module(alias.name):
                    if alias.asname:
                        bound_modules[alias.asname] = alias.name
                    else:
                        bound_modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
                if any(_private(part) for part in alias.name.split(".")[1:]):
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not _is_project_module(node.module):
                continue
            if any(_private(part) for part in node.module.split(".")[1:]):
                found.append(f"from {node.module} import ...")
            for alias in node.names:
                if node.module != module and _private(alias.name):
                    found.append(f"from {node.module} import {alias.name}")
                elif not _private(alias.name):
                    # "from server import ui" binds a module; "from x import func" binds
                    # something else, whose private attributes are its own business.
                    bound_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound_modules
            and bound_modules[node.value.id] != module
            and _names_a_module(bound_modules[node.value.id])
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def _names_a_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def route_modules() -> set[str]:
    """Return the server modules that declare HTTP routes (they build an APIRouter)."""
    found = set()
    for module, path in _sources():
        if module.startswith("server.") and "APIRouter(" in path.read_text():
            found.add(module)
    return found


def route_imports(module: str, source: str, routes: set[str]) -> list[str]:
    """Return the route modules a non-route module imports (only app.py may wire them)."""
    if module in routes or module == "server.app":
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name in routes]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in routes:
                found.append(node.module)
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in routes
            ]
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


def test_no_module_uses_another_modules_private_names() -> None:
    violations = [
        f"{module}: {use}"
        for module, path in _sources()
        for use in private_imports(module, path.read_text())
    ]
    assert violations == []


def test_the_private_name_check_sees_each_shape() -> None:
    source = (
        "from agent.runner import _to_finding\n"
        "from agent import runner\n"
        "import collector.db as db\n"
        "from agent.runner import build_findings\n"
        "runner._scan(1)\n"
        "db._engine_options()\n"
        "build_findings._cache\n"  # a function's attribute, not a module's private name
        "from agent.service import _own\n"  # a module's own private name is fine
    )
    assert private_imports("agent.service", source) == [
        "from agent.runner import _to_finding",
        "runner._scan",
        "db._engine_options",
    ]


def test_no_service_imports_a_route_module() -> None:
    routes = route_modules()
    assert routes, "no route module found: the check would pass vacuously"
    violations = [
        f"{module} imports {imported}"
        for module, path in _sources()
        for imported in route_imports(module, path.read_text(), routes)
    ]
    assert violations == []


def test_routes_are_declared_only_in_api_and_pages_modules() -> None:
    # A domain package keeps its JSON routes in api.py and its UI routes in pages.py.
    misplaced = sorted(
        module for module in route_modules() if module.rsplit(".", 1)[-1] not in {"api", "pages"}
    )
    assert misplaced == []


def test_the_route_check_sees_a_service_importing_routes() -> None:
    routes = {"server.register.pages", "server.hosts.api"}
    source = "from server.register import pages\nimport server.hosts.api\n"
    assert route_imports("server.register.service", source, routes) == [
        "server.register.pages",
        "server.hosts.api",
    ]
    assert route_imports("server.app", source, routes) == []


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
