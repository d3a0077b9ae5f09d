"""The database of everything the collector keeps, one module per domain, each with its tables
beside the functions that read and write them (keyword-only; the caller owns the transaction).
Every module is listed in ``collector.schema`` so that Alembic and the schema check see its tables.
"""
