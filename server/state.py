"""What one running server holds: settings, database, catalogue, templates."""

from __future__ import annotations

from dataclasses import dataclass

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
