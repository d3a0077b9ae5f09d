"""Build the ASGI application from settings; nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.db import make_engine, make_sessionmaker
from server import __version__, api_auth, http_errors, ui
from server.api import agents, exports, inventory, reports, sync, tokens, webhooks
from server.config import ServerSettings
from server.register import api as register_api
from server.register import views as register_views
from server.state import AppState
from signatures import load_catalogue

_SECURITY_HEADERS = {
    # Everything is served by Shadowmap itself: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware: add the security headers a response does not set itself.

    Plain ASGI rather than ``@app.middleware("http")``, whose per-request task and body
    streaming cost every agent upload more CPU than the headers are worth.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for header, value in _SECURITY_HEADERS.items():
                    headers.setdefault(header, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("server").joinpath(name)))


@asynccontextmanager
async def _scheduler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run scheduled reports and webhook deliveries while the server runs; close the pool after."""
    state: AppState = app.state.shadowmap
    scheduler = None
    if state.settings.scheduler_enabled:
        from server.reports.schedule import start_scheduler

        scheduler = start_scheduler(state.settings, state.engine, state.sessions)
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        state.engine.dispose()  # close pooled connections on shutdown


def create_app(settings: ServerSettings) -> FastAPI:
    """Return the Shadowmap server application for these settings."""
    engine = make_engine(settings.resolved_database_url())
    templates = Jinja2Templates(directory=_package_dir("templates"))
    templates.env.globals["version"] = __version__
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        catalogue=load_catalogue(settings.catalogue_dir),
        templates=templates,
    )
    app = FastAPI(
        title="Shadowmap",
        version=__version__,
        description="Discovery of AI use and the governed ISO/IEC 42001 AI register.",
        # No Swagger UI: it loads its assets from a CDN. The OpenAPI document is served.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_scheduler_lifespan,
    )
    app.state.shadowmap = state
    http_errors.install(app)
    api_auth.install(app, settings)

    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(agents.router)
    app.include_router(inventory.router)
    app.include_router(sync.router)
    app.include_router(tokens.router)
    app.include_router(reports.router)
    app.include_router(webhooks.router)
    app.include_router(exports.router)
    app.include_router(ui.router)
    app.include_router(register_views.router)
    app.include_router(register_api.router)
    app.include_router(register_api.governance_router)
    app.mount("/static", StaticFiles(directory=_package_dir("static")), name="static")
    return app
