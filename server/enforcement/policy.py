"""What the current register prohibits and approves, in the terms enforcement tools speak:
DNS names, browser extension ids, IDE extension ids; each traced to its register entry.

The names come from the catalogue indicators of each entry's services (the entry's own and
those of the inventory items linked to it) and from unknown candidate domains linked to it.
Every DNS name is put in the form resolvers use (signatures.normalise_name: lower case,
ASCII/IDNA, no root dot; a leading "*." means the domain and its subdomains) and must then be
a valid host name, or the whole export is refused (ExportRefused names the entry and name).
A catalogue pattern with a wildcard inside a name (bedrock.*.amazonaws.com) has no list form:
the name-based exports name it in a comment."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector import governance
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
    #: Catalogue patterns with a wildcard inside (bedrock.*.amazonaws.com): no name lists them;
    #: the name-based exports say so in a comment instead of leaving them out silently.
    patterns: dict[str, Reason] = field(default_factory=dict)

    def exact_hosts(self) -> dict[str, Reason]:
        """The blocked hosts not already covered by a blocked domain."""
        return {
            host: reason
            for host, reason in self.blocked_hosts.items()
            if not _covered(host, self.blocked_domains)
        }


def _covered(host: str, domains: dict[str, Reason]) -> bool:
    """Whether a host is one of the domains or below one of them."""
    labels = host.split(".")
    return any(".".join(labels[start:]) in domains for start in range(len(labels) - 1))


def dns_name(register_id: str, raw: str) -> tuple[str, bool]:
    """Return a name as resolvers see it and whether it stands for its subdomains too;
    raises ExportRefused when it is no valid host name."""
    judged = _judged_name(raw)
    if isinstance(judged, str):
        raise ExportRefused(register_id, raw, judged)
    return judged


@functools.lru_cache(maxsize=65_536)
def _judged_name(raw: str) -> tuple[str, bool] | str:
    """The name and whether it is a wildcard, or why it is no host name (cached: the same
    catalogue names come back in every export)."""
    wildcard = raw.strip().startswith("*.")
    name = normalise_name(raw.strip()[2:] if wildcard else raw)
    if name is None:
        return "is not a DNS name (no IDNA form)"
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "is not a host name (letters, digits and hyphens, two labels)"
    if labels[-1].isdigit():
        return "is an address, not a name"
    return name, wildcard


def _linked(session: Session) -> dict[int, list[tuple[str, str | None]]]:
    """Return, per register entry, the (key, service id) of the items linked to it."""
    found: dict[int, list[tuple[str, str | None]]] = {}
    rows = session.execute(
        select(TriageRecord.register_entry_id, InventoryItem.key, InventoryItem.service_id)
        .join(InventoryItem, InventoryItem.id == TriageRecord.item_id)
        .where(TriageRecord.register_entry_id.is_not(None))
        .order_by(InventoryItem.id)
    ).all()
    for entry_id, key, service_id in rows:
        if entry_id is not None:
            found.setdefault(int(entry_id), []).append((str(key), service_id))
    return found


_GOVERNING = (governance.PROHIBITED, governance.APPROVED, governance.RESTRICTED)


def build_policy(session: Session, catalogue: Catalogue) -> Policy:
    """Read the current register into enforcement rules; raises ExportRefused."""
    serial = session.scalar(select(func.max(RegisterEntry.updated_at)))
    entries = session.execute(
        select(
            RegisterEntry.id,
            RegisterEntry.register_id,
            RegisterEntry.title,
            RegisterEntry.status,
            RegisterEntry.alternative,
            RegisterEntry.service_id,
        )
        .where(RegisterEntry.status.in_(_GOVERNING))
        .order_by(RegisterEntry.register_id)
    ).all()
    total = session.scalar(select(func.count(RegisterEntry.id))) or 0
    policy = Policy(serial=int(serial.timestamp()) if serial else 1, entries=int(total))
    linked = _linked(session) if entries else {}
    for entry_id, register_id, title, status, alternative, entry_service in entries:
        blocking = status == governance.PROHIBITED
        reason = Reason(register_id, title, status, alternative)
        items = linked.get(entry_id, [])
        service_ids = dict.fromkeys([entry_service] + [service_id for _key, service_id in items])
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
        keys = [key for key, _service_id in items]
        if blocking:
            _add_names(policy, reason, _candidates(keys, CANDIDATE_DOMAIN), True)
        _add_extensions(policy, reason, _candidates(keys, CANDIDATE_BROWSER_EXTENSION), blocking)
        _add_ide(policy, reason, _candidates(keys, CANDIDATE_IDE_EXTENSION), blocking)
    return policy


def _candidates(keys: list[str], prefix: str) -> list[str]:
    return [key[len(prefix) :] for key in keys if key.startswith(prefix)]


def _add_names(policy: Policy, reason: Reason, names: Iterable[str], domains: bool) -> None:
    for raw in names:
        if "*" in raw.strip().removeprefix("*."):
            policy.patterns.setdefault(raw.strip(), reason)
            continue
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
