"""The Shadowmap endpoint agent: scans a host for AI use and reports it to a collector."""

__version__ = "0.1.0"
