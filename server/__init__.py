"""Shadowmap's server: triage UI, governed register, API and reports, over the collector."""

__version__ = "0.1.0"
