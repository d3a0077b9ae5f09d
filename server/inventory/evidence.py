"""Summarise the evidence behind a draft item: hosts, users, browsers, processes, domains, when."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from collector.store import inventory
from collector.store.inventory import InventoryItem


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


#: How many values of each kind the item page names (the counts are of all of them).
SHOWN = 20


@dataclass(frozen=True, slots=True)
class EvidenceSummary:
    hosts: tuple[tuple[int, str], ...]  # (host id, hostname): the first SHOWN
    host_count: int
    users: tuple[str, ...]  # the first SHOWN, as user_display shows them
    user_count: int
    browsers: tuple[str, ...]
    processes: tuple[str, ...]
    process_count: int
    domains: tuple[str, ...]
    domain_count: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None


def summarise(
    session: Session, item: InventoryItem, show_user: Callable[[str | None], str]
) -> EvidenceSummary:
    """Return the hosts, users, browsers, processes and domains behind an item, from its
    roll-ups and facets: a few bounded reads however many hosts show it, with true counts."""

    def facet(name: str) -> tuple[list[str], int]:
        return inventory.item_facet_values(session, item_id=item.id, facet=name, limit=SHOWN)

    # The item's user roll-up counts its user facets: no second count over them.
    users, _read = inventory.item_facet_values(
        session, item_id=item.id, facet="user", limit=SHOWN, count=False
    )
    browsers, _browser_count = facet("browser")
    processes, process_count = facet("process")
    domains, domain_count = facet("domain")
    return EvidenceSummary(
        hosts=tuple(inventory.item_host_sample(session, item_id=item.id, limit=SHOWN)),
        host_count=item.host_count,
        users=tuple(sorted(show_user(user) for user in users)),
        user_count=item.user_count,
        browsers=tuple(browsers),
        processes=tuple(processes),
        process_count=process_count,
        domains=tuple(domains),
        domain_count=domain_count,
        first_seen=item.first_seen_at,
        last_seen=item.last_seen_at,
    )
