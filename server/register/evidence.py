"""Summarise the sightings behind a draft item: hosts, users, browsers, processes, domains, when."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from collector.store.hosts import Host
from collector.store.inventory import Sighting

_DOMAIN_KINDS = frozenset({"dns", "sni", "connection", "log"})


def user_display(key: str | None) -> Callable[[str | None], str]:
    """Return how user names are shown: as reported, or pseudonymised with a keyed hash."""

    def show(name: str | None) -> str:
        if not name:
            return "—"
        if key is None:
            return name
        digest = hmac.new(key.encode(), name.encode(), hashlib.sha256).hexdigest()
        return f"user-{digest[:10]}"

    return show


@dataclass(frozen=True, slots=True)
class EvidenceSummary:
    hosts: tuple[str, ...]
    users: tuple[str, ...]
    browsers: tuple[str, ...]
    processes: tuple[str, ...]
    domains: tuple[str, ...]
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None


def summarise(
    sightings: Sequence[tuple[Sighting, Host]], show_user: Callable[[str | None], str]
) -> EvidenceSummary:
    """Return the distinct hosts, users, browsers, processes and domains behind an item."""
    hosts, users, browsers, processes, domains = set(), set(), set(), set(), set()
    for sighting, host in sightings:
        hosts.add(host.hostname)
        if sighting.user_name:
            users.add(show_user(sighting.user_name))
        browser = sighting.evidence.get("browser")
        if isinstance(browser, str) and browser:
            browsers.add(browser)
        if sighting.kind == "process":
            processes.add(sighting.indicator)
        if sighting.kind in _DOMAIN_KINDS or sighting.indicator_kind == "domain":
            domains.add(sighting.indicator)
    return EvidenceSummary(
        hosts=tuple(sorted(hosts)),
        users=tuple(sorted(users)),
        browsers=tuple(sorted(browsers)),
        processes=tuple(sorted(processes)),
        domains=tuple(sorted(domains)),
        first_seen=min((s.first_seen_at for s, _h in sightings), default=None),
        last_seen=max((s.last_seen_at for s, _h in sightings), default=None),
    )
