"""The layers inside server/: routes in api.py and pages.py only, services that never import a
route module, no module that reaches for another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "server"
ROUTE_MODULES = frozenset({"api", "pages"})


def _imported(path: Path) -> list[tuple[str, str]]:
    """Return (module, name) for every name imported from a module (name "" for a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.module, alias.name) for alias in node.names)
    return found


def _is_route_module(module: str) -> bool:
    return module.startswith("server.") and module.rsplit(".", 1)[-1] in ROUTE_MODULES


def private_imports(path: Path) -> list[str]:
    """Return each private name ``path`` imports from another module of the project."""
    return [
        f"{module}.{name}"
        for module, name in _imported(path)
        if module.split(".")[0] in ("agent", "signatures", "collector", "server")
        and name.startswith("_")
        and not name.startswith("__")
    ]


def route_imports(path: Path) -> list[str]:
    """Return each route module (api.py, pages.py) that a non-route module imports."""
    if path.stem in ROUTE_MODULES or path.name == "app.py":
        return []
    offenders = []
    for module, name in _imported(path):
        if _is_route_module(module) or (name in ROUTE_MODULES and module.startswith("server.")):
            offenders.append(f"{module}{'.' + name if name else ''}")
    return offenders


SOURCES = sorted(SERVER.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_no_module_imports_another_modules_private_name(path: Path) -> None:
    assert private_imports(path) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_services_never_import_route_modules(path: Path) -> None:
    # The CLI of a domain is not a route module either: it calls services, as the routes do.
    assert route_imports(path) == []


def test_routes_are_declared_only_in_route_modules() -> None:
    declaring = set()
    for path in SOURCES:
        text = path.read_text()
        if "APIRouter(" in text or "@router." in text:
            declaring.add(path.relative_to(REPO).as_posix())
    assert declaring
    assert all(Path(name).stem in ROUTE_MODULES for name in declaring), sorted(declaring)


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    service = tmp_path / "service.py"
    service.write_text(
        "from server.web.rendering import _page, render_page\n"
        "from server.register import pages\n"
        "from server.inventory.api import router\n"
        "from collections import _chain\n"
    )
    assert private_imports(service) == ["server.web.rendering._page"]
    assert route_imports(service) == ["server.register.pages", "server.inventory.api.router"]
    pages = tmp_path / "pages.py"
    pages.write_text(service.read_text())
    assert route_imports(pages) == []
