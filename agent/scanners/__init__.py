"""Evidence sources: one module per source, each a pure generator of observations."""

from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem, Scanner
from agent.scanners.registry import DEFAULT_SCANNERS, select

__all__ = [
    "DEFAULT_SCANNERS",
    "LocalUser",
    "Observation",
    "ScanContext",
    "ScanItem",
    "Scanner",
    "select",
]
