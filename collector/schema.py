"""Every table of Shadowmap's database, for Alembic and the tests.

Store modules register their tables on ``collector.store.base.Base`` when imported; a new store
module is added to the imports below so that migrations and schema checks see its tables
(tests/collector/test_schema.py fails when one is missing).
"""

from __future__ import annotations

from collector.store import (
    agents,
    approvals,
    assessments,
    audit,
    base,
    external_links,
    hosts,
    incidents,
    inventory,
    limits,
    notifications,
    objectives,
    people,
    policies,
    register,
    releases,
    reports,
    scope,
    siem,
    soa,
    sso,
    sync,
    tokens,
    training,
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
    notifications,
    register,
    audit,
    tokens,
    sync,
    webhooks,
    reports,
    external_links,
    sso,
    siem,
    scope,
    people,
    policies,
    approvals,
    assessments,
    incidents,
    training,
    soa,
    objectives,
    releases,
)

__all__ = ["MODEL_MODULES", "Base"]
