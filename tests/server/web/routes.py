"""Enumerate every route an application serves, including those of included routers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import Mount, Route


def iter_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield (method, path) for every endpoint; a static mount counts as GET <path>/{path}."""
    for route in routes:
        if isinstance(route, Mount):
            yield "GET", f"{prefix}{route.path}/{{path}}"
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # FastAPI >= 0.165 wraps included routers
            yield from iter_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )
        else:
            raise AssertionError(f"unknown route type {type(route).__name__}")
