"""collector.schema lists every store module, so Alembic and the schema check see every table."""

from __future__ import annotations

import importlib
import pkgutil

import collector.store
from collector.schema import MODEL_MODULES, Base


def test_every_store_module_is_in_the_schema() -> None:
    modules = {
        importlib.import_module(f"collector.store.{info.name}")
        for info in pkgutil.iter_modules(collector.store.__path__)
    }
    assert modules == set(MODEL_MODULES)


def test_every_table_belongs_to_a_listed_store_module() -> None:
    declared = {
        value.__table__.name
        for module in MODEL_MODULES
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Base) and hasattr(value, "__table__")
    }
    # Plain Core tables (APScheduler's job store) are declared on the same metadata.
    core = {
        value.name
        for module in MODEL_MODULES
        for value in vars(module).values()
        if getattr(value, "metadata", None) is Base.metadata and hasattr(value, "c")
    }
    assert set(Base.metadata.tables) == declared | core
