"""The built-in scanners, registered the way a third-party scanner would join them."""

from __future__ import annotations

from agent.scanners.base import Scanner
from agent.scanners.processes import ProcessScanner

DEFAULT_SCANNERS: tuple[Scanner, ...] = (ProcessScanner(),)


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
