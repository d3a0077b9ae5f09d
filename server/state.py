"""What one running server holds: settings, database, catalogue, templates."""

from __future__ import annotations

from dataclasses import dataclass

from anyio import CapacityLimiter
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.config import ServerSettings
from signatures import Catalogue


@dataclass(slots=True)
class AppState:
    settings: ServerSettings
    engine: Engine
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    templates: Jinja2Templates
    # Made on first use: an anyio limiter belongs to the running event loop.
    ingest_limiter: CapacityLimiter | None = None
    login_limiter: CapacityLimiter | None = None

    def ingest_slots(self) -> CapacityLimiter:
        """Return the limiter of concurrent report ingests (settings.ingest_concurrency)."""
        if self.ingest_limiter is None:
            self.ingest_limiter = CapacityLimiter(self.settings.ingest_concurrency)
        return self.ingest_limiter

    def login_slots(self) -> CapacityLimiter:
        """Return the limiter of concurrent password checks (settings.login_concurrency)."""
        if self.login_limiter is None:
            self.login_limiter = CapacityLimiter(self.settings.login_concurrency)
        return self.login_limiter
