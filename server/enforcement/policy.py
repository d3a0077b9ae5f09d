"""What the current register prohibits and approves, in the terms enforcement tools speak:
DNS names, browser extension ids, IDE extension ids; each traced to its register entry.

The names come from the catalogue indicators of each entry's services (the entry's own and
those of the inventory items linked to it) and from unknown candidate domains linked to it.
Every DNS name is put in the form resolvers use (signatures.normalise_name: lower case,
ASCII/IDNA, no root dot; a leading "*." means the domain and its subdomains) and must then be
a valid host name, or the whole export is refused (ExportRefused names the entry and name)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import governance
from collector.store import register
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from collector.store.triage import TriageRecord
from server.errors import GuardFailed
from signatures import Catalogue, IndicatorKind, normalise_name

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_CHROME_ID = re.compile(r"^[a-p]{32}$")
_FIREFOX_ID = re.compile(r"^(\{[0-9a-fA-F-]{36}\}|[A-Za-z0-9._+-]{1,80}@[A-Za-z0-9._-]{1,80})$")
_VSCODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}\.[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
CANDIDATE_DOMAIN = "cand:domain:"
CANDIDATE_BROWSER_EXTENSION = "cand:browser_extension:"
CANDIDATE_IDE_EXTENSION = "cand:ide_extension:"


class ExportRefused(GuardFailed):
    """A register entry names something no enforcement tool could read; nothing is exported."""

    def __init__(self, register_id: str, value: str, reason: str) -> None:
        super().__init__("register", f"{register_id}: {value[:80]!r} {reason}")
        self.register_id = register_id
        self.value = value


@dataclass(frozen=True, slots=True)
class Reason:
    """The register entry behind a rule: what it is, what it decided, what to use instead."""

    register_id: str
    title: str
    status: str
    alternative: str

    def comment(self) -> str:
        """One line for an export's comment (control characters removed)."""
        text = f"{self.register_id} {self.title}: {governance.label(self.status).lower()}"
        if self.alternative:
            text += f"; use instead: {self.alternative}"
        return re.sub(r"[\x00-\x1f\x7f]", " ", text)


@dataclass(slots=True)
class Policy:
    """The rules of the current register, each name mapped to the first entry that set it."""

    serial: int
    entries: int
    blocked_domains: dict[str, Reason] = field(default_factory=dict)  # and their subdomains
    blocked_hosts: dict[str, Reason] = field(default_factory=dict)  # exactly these names
    blocked_chrome: dict[str, Reason] = field(default_factory=dict)
    allowed_chrome: dict[str, Reason] = field(default_factory=dict)
    blocked_firefox: dict[str, Reason] = field(default_factory=dict)
    allowed_firefox: dict[str, Reason] = field(default_factory=dict)
    blocked_vscode: dict[str, Reason] = field(default_factory=dict)
    allowed_vscode: dict[str, Reason] = field(default_factory=dict)

    def exact_hosts(self) -> dict[str, Reason]:
        """The blocked hosts not already covered by a blocked domain."""
        return {
            host: reason
            for host, reason in self.blocked_hosts.items()
            if not any(host == d or host.endswith("." + d) for d in self.blocked_domains)
        }


def dns_name(register_id: str, raw: str) -> tuple[str, bool]:
    """Return a name as resolvers see it and whether it stands for its subdomains too;
    raises ExportRefused when it is no valid host name."""
    wildcard = raw.strip().startswith("*.")
    name = normalise_name(raw.strip()[2:] if wildcard else raw)
    if name is None:
        raise ExportRefused(register_id, raw, "is not a DNS name (no IDNA form)")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ExportRefused(
            register_id, raw, "is not a host name (letters, digits and hyphens, two labels)"
        )
    if labels[-1].isdigit():
        raise ExportRefused(register_id, raw, "is an address, not a name")
    return name, wildcard


def _linked(session: Session, entry_ids: list[int]) -> dict[int, list[InventoryItem]]:
    found: dict[int, list[InventoryItem]] = {}
    if not entry_ids:
        return found
    rows = session.execute(
        select(TriageRecord.register_entry_id, InventoryItem)
        .join(InventoryItem, InventoryItem.id == TriageRecord.item_id)
        .where(TriageRecord.register_entry_id.in_(entry_ids))
        .order_by(InventoryItem.id)
    ).all()
    for entry_id, item in rows:
        if entry_id is not None:
            found.setdefault(int(entry_id), []).append(item)
    return found


def _all_entries(session: Session) -> list[RegisterEntry]:
    entries: list[RegisterEntry] = []
    after = ""
    while True:
        page = register.list_register_page(session, after_register_id=after, limit=1000)
        entries.extend(page)
        if len(page) < 1000:
            return entries
        after = page[-1].register_id


def build_policy(session: Session, catalogue: Catalogue) -> Policy:
    """Read the current register into enforcement rules; raises ExportRefused."""
    entries = _all_entries(session)
    serial = max((int(entry.updated_at.timestamp()) for entry in entries), default=1)
    policy = Policy(serial=serial, entries=len(entries))
    linked = _linked(session, [entry.id for entry in entries])
    for entry in entries:
        blocking = entry.status == governance.PROHIBITED
        allowing = entry.status in (governance.APPROVED, governance.RESTRICTED)
        if not (blocking or allowing):
            continue
        reason = Reason(entry.register_id, entry.title, entry.status, entry.alternative)
        items = linked.get(entry.id, [])
        service_ids = dict.fromkeys([entry.service_id] + [item.service_id for item in items])
        for service_id in service_ids:
            service = catalogue.get(service_id) if service_id else None
            if service is None:
                continue
            indicators = service.indicators
            if blocking:
                _add_names(policy, reason, indicators.get(IndicatorKind.DOMAIN, ()), True)
                _add_names(policy, reason, indicators.get(IndicatorKind.HOST, ()), False)
            _add_extensions(
                policy, reason, indicators.get(IndicatorKind.BROWSER_EXTENSION, ()), blocking
            )
            _add_ide(policy, reason, indicators.get(IndicatorKind.IDE_EXTENSION, ()), blocking)
        # Unknown candidates linked to the entry: their own domain or extension id.
        if blocking:
            _add_names(policy, reason, _candidates(items, CANDIDATE_DOMAIN), True)
        _add_extensions(policy, reason, _candidates(items, CANDIDATE_BROWSER_EXTENSION), blocking)
        _add_ide(policy, reason, _candidates(items, CANDIDATE_IDE_EXTENSION), blocking)
    return policy


def _candidates(items: list[InventoryItem], prefix: str) -> list[str]:
    return [item.key[len(prefix) :] for item in items if item.key.startswith(prefix)]


def _add_names(policy: Policy, reason: Reason, names: Iterable[str], domains: bool) -> None:
    for raw in names:
        name, wildcard = dns_name(reason.register_id, raw)
        target = policy.blocked_domains if domains or wildcard else policy.blocked_hosts
        target.setdefault(name, reason)


def _add_extensions(policy: Policy, reason: Reason, ids: Iterable[str], blocking: bool) -> None:
    for extension_id in ids:
        if _CHROME_ID.match(extension_id):
            target = policy.blocked_chrome if blocking else policy.allowed_chrome
        elif _FIREFOX_ID.match(extension_id):
            target = policy.blocked_firefox if blocking else policy.allowed_firefox
        else:
            raise ExportRefused(reason.register_id, extension_id, "is no browser extension id")
        target.setdefault(extension_id, reason)


def _add_ide(policy: Policy, reason: Reason, ids: Iterable[str], blocking: bool) -> None:
    for extension_id in ids:
        if _VSCODE_ID.match(extension_id):  # publisher.name; JetBrains plugin ids go elsewhere
            target = policy.blocked_vscode if blocking else policy.allowed_vscode
            target.setdefault(extension_id.lower(), reason)
