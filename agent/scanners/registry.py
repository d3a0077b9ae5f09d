"""The built-in scanners, registered the way a third-party scanner would join them."""

from __future__ import annotations

from agent.scanners.apps import DesktopAppScanner
from agent.scanners.base import Scanner
from agent.scanners.browsers import BrowserExtensionScanner
from agent.scanners.connections import AddressBook, ConnectionScanner
from agent.scanners.environment import EnvironmentScanner
from agent.scanners.footprints import FootprintScanner
from agent.scanners.ide import IdeExtensionScanner
from agent.scanners.mcp import McpServerScanner
from agent.scanners.packages import PackageScanner
from agent.scanners.processes import ProcessScanner
from agent.scanners.runtimes import LocalRuntimeScanner, ModelFileScanner

# Without names in the address book only vendor address ranges match; the agent can fill it
# with AddressBook.for_hosts(catalogue_hosts(catalogue)) to resolve catalogue host names.
ADDRESS_BOOK = AddressBook()

DEFAULT_SCANNERS: tuple[Scanner, ...] = (
    ConnectionScanner(ADDRESS_BOOK),  # first: it refreshes the book the process hints use
    ProcessScanner(ADDRESS_BOOK),
    LocalRuntimeScanner(),
    DesktopAppScanner(),
    BrowserExtensionScanner(),
    IdeExtensionScanner(),
    PackageScanner(),
    ModelFileScanner(),
    McpServerScanner(),
    EnvironmentScanner(),
    FootprintScanner(),
)


def select(
    names: str | None, scanners: tuple[Scanner, ...] = DEFAULT_SCANNERS
) -> tuple[Scanner, ...]:
    """Return the scanners named in a comma-separated list (all when None).

    Raises ValueError naming any unknown scanner.
    """
    if not names:
        return scanners
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = {scanner.name: scanner for scanner in scanners}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"unknown scanner(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return tuple(known[name] for name in wanted)
