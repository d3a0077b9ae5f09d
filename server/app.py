"""Build the ASGI application from settings: state, middleware, error mapping and each domain's
routers. Nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from collector.db import make_engine, make_sessionmaker
from server import __version__
from server.accounts import pages as accounts_pages
from server.agents import api as agents_api
from server.approvals import api as approvals_api
from server.approvals import pages as approvals_pages
from server.assessments import api as assessments_api
from server.assessments import pages as assessments_pages
from server.audit import api as audit_api
from server.audit import pages as audit_pages
from server.config import ServerSettings
from server.dashboard import pages as dashboard_pages
from server.enforcement import api as enforcement_api
from server.exports import api as exports_api
from server.hosts import api as hosts_api
from server.hosts import pages as hosts_pages
from server.incidents import api as incidents_api
from server.incidents import pages as incidents_pages
from server.inventory import api as inventory_api
from server.inventory import pages as inventory_pages
from server.management_review import api as management_review_api
from server.management_review import pages as management_review_pages
from server.notifications import api as notifications_api
from server.people import api as people_api
from server.people import pages as people_pages
from server.policies import api as policies_api
from server.policies import pages as policies_pages
from server.register import api as register_api
from server.register import pages as register_pages
from server.reports import api as reports_api
from server.reports import pages as reports_pages
from server.reviews import api as reviews_api
from server.reviews import pages as reviews_pages
from server.scope import api as scope_api
from server.scope import pages as scope_pages
from server.soa import api as soa_api
from server.soa import pages as soa_pages
from server.sso import pages as sso_pages
from server.state import AppState
from server.sync import api as sync_api
from server.tokens import api as tokens_api
from server.training import api as training_api
from server.training import pages as training_pages
from server.web import api_auth, http_errors, openapi_links
from server.web.middleware import SecurityHeaders
from server.web.rendering import JSONAnswer
from server.web.templates import page_templates
from server.webhooks import api as webhooks_api
from signatures import load_catalogue

#: JSON routers, in the order the OpenAPI document lists their paths.
API_ROUTERS = (
    agents_api.router,
    inventory_api.router,
    hosts_api.router,
    sync_api.router,
    tokens_api.router,
    reports_api.router,
    webhooks_api.router,
    notifications_api.router,
    enforcement_api.router,
    exports_api.router,
    register_api.router,
    audit_api.router,
    reviews_api.router,
    scope_api.router,
    people_api.router,
    policies_api.router,
    approvals_api.router,
    assessments_api.router,
    incidents_api.router,
    training_api.router,
    soa_api.router,
    management_review_api.router,
)
#: Page routers (not in the OpenAPI document).
PAGE_ROUTERS = (
    dashboard_pages.router,
    accounts_pages.router,
    sso_pages.router,
    inventory_pages.router,
    hosts_pages.router,
    register_pages.router,
    reviews_pages.router,
    audit_pages.router,
    reports_pages.router,
    management_review_pages.router,
    scope_pages.router,
    people_pages.router,
    policies_pages.router,
    approvals_pages.router,
    assessments_pages.router,
    incidents_pages.router,
    training_pages.router,
    soa_pages.router,
)


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
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        catalogue=load_catalogue(settings.catalogue_dir),
        templates=page_templates(),
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
        default_response_class=JSONAnswer,
    )
    app.state.shadowmap = state
    http_errors.install(app)
    api_auth.install(app, settings)
    openapi_links.install(app)

    app.add_middleware(SecurityHeaders)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in (*API_ROUTERS, *PAGE_ROUTERS):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=_package_dir("static")), name="static")
    return app
