"""The built-in scanners, and the factory that builds an agent's scanner list.

A scanner joins the agent the way a third-party one would: a factory in BUILT_IN_SCANNERS
builds it from :class:`ScannerInputs` (the settings, the catalogue and the address book the
connection and process scanners share). ``scan --once`` and the ``run`` service both call
:func:`build_scanners`, so a setting reaches the scanners the same way on both paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.addressbook import AddressBook, catalogue_hosts
from agent.config import AgentSettings
from agent.scanners.apps import DesktopAppScanner
from agent.scanners.base import Scanner
from agent.scanners.browsers import BrowserExtensionScanner
from agent.scanners.connections import ConnectionScanner
from agent.scanners.environment import EnvironmentScanner
from agent.scanners.footprints import FootprintScanner
from agent.scanners.ide import IdeExtensionScanner
from agent.scanners.mcp import McpServerScanner
from agent.scanners.packages import PackageScanner
from agent.scanners.processes import ProcessScanner
from agent.scanners.runtimes import LocalRuntimeScanner, ModelFileScanner
from signatures import Catalogue


@dataclass(frozen=True, slots=True)
class ScannerInputs:
    """What a scanner may be built from."""

    settings: AgentSettings
    catalogue: Catalogue
    address_book: AddressBook


ScannerFactory = Callable[[ScannerInputs], Scanner]

BUILT_IN_SCANNERS: tuple[ScannerFactory, ...] = (
    # First: it refreshes the address book whose names the process hints use.
    lambda inputs: ConnectionScanner(inputs.address_book),
    lambda inputs: ProcessScanner(inputs.address_book),
    lambda _inputs: LocalRuntimeScanner(),
    lambda _inputs: DesktopAppScanner(),
    lambda _inputs: BrowserExtensionScanner(),
    lambda _inputs: IdeExtensionScanner(),
    lambda _inputs: PackageScanner(),
    lambda _inputs: ModelFileScanner(),
    lambda _inputs: McpServerScanner(),
    lambda _inputs: EnvironmentScanner(),
    lambda inputs: FootprintScanner.for_catalogue(inputs.catalogue),
)


def address_book_for(settings: AgentSettings, catalogue: Catalogue) -> AddressBook:
    """Return the address book the scanners share.

    With ``resolve_catalogue_hosts`` it resolves the catalogue's exact host names; without,
    it starts empty (vendor address ranges still match, and network capture may fill it).
    """
    return AddressBook(catalogue_hosts(catalogue) if settings.resolve_catalogue_hosts else ())


def build_scanners(
    settings: AgentSettings,
    catalogue: Catalogue,
    *,
    only: str | None = None,
    address_book: AddressBook | None = None,
    factories: tuple[ScannerFactory, ...] | None = None,
) -> tuple[Scanner, ...]:
    """Build the scanners an agent runs: those ``only`` names, else the ``scanners`` setting.

    ``factories`` defaults to BUILT_IN_SCANNERS. Raises ValueError naming any unknown scanner.
    """
    book = address_book if address_book is not None else address_book_for(settings, catalogue)
    inputs = ScannerInputs(settings=settings, catalogue=catalogue, address_book=book)
    chosen = BUILT_IN_SCANNERS if factories is None else factories
    scanners = tuple(factory(inputs) for factory in chosen)
    return select(only or settings.scanners or None, scanners)


def select(names: str | None, scanners: tuple[Scanner, ...]) -> tuple[Scanner, ...]:
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
