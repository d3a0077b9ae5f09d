"""Evidence sources: one module per source, each a pure generator of observations."""

from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem, Scanner
from agent.scanners.registry import BUILT_IN_SCANNERS, ScannerInputs, build_scanners, select

__all__ = [
    "BUILT_IN_SCANNERS",
    "LocalUser",
    "Observation",
    "ScanContext",
    "ScanItem",
    "Scanner",
    "ScannerInputs",
    "build_scanners",
    "select",
]
