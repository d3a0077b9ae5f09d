"""Every table of Shadowmap's database, for Alembic and the tests.

Store modules register their tables on ``collector.store.base.Base`` when imported; a new store
module is added to the imports below so that migrations and schema checks see its tables
(tests/collector/test_schema.py fails when one is missing).
"""

from __future__ import annotations

from collector.store import (
    agents,
    audit,
    base,
    external_links,
    hosts,
    inventory,
    limits,
    register,
    releases,
    reports,
    siem,
    sso,
    sync,
    tokens,
    triage,
    users,
    webhooks,
)
from collector.store.base import Base

MODEL_MODULES = (
    base,
    users,
    hosts,
    agents,
    inventory,
    limits,
    triage,
    register,
    audit,
    tokens,
    sync,
    webhooks,
    reports,
    external_links,
    sso,
    siem,
    releases,
)

__all__ = ["MODEL_MODULES", "Base"]
