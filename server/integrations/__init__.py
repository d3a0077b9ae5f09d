"""Connectors that push the governed register into other systems (GRC tools)."""
