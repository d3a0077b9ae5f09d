"""Every table of Shadowmap's database, for Alembic and the tests.

Model modules register their tables on ``collector.models.Base`` when imported; a new model
module is added to the imports below so that migrations and schema checks see it.
"""

from __future__ import annotations

import collector.agent_models
import collector.api_models
import collector.external_link_models
import collector.models
import collector.register_models
from collector.models import Base

MODEL_MODULES = (
    collector.models,
    collector.register_models,
    collector.agent_models,
    collector.api_models,
    collector.external_link_models,
)

__all__ = ["MODEL_MODULES", "Base"]
