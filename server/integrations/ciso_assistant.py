"""Push the governed register into CISO Assistant through its REST API (DRF, Knox tokens).

Every approved or restricted register entry becomes a primary Asset in one folder (domain);
its controls and, for a restricted entry, its conditions of use become AppliedControls on
that asset; its decision record and evidence links become Evidence attached to those
controls. The ids CISO Assistant returns are kept in ``external_links`` with a hash of what
was sent, so a second push sends nothing for an unchanged entry, PATCHes a changed one and
re-creates an object someone deleted in CISO Assistant. Nothing is ever deleted remotely:
an entry that leaves the pushed statuses is marked on its asset (see docs/integrations.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import audit, external_links, register
from collector.store.register import RegisterEntry
from server import __version__
from server.config import ServerSettings
from server.errors import SettingsError
from server.integrations.errors import RemoteAuthFailed, RemoteRejected, RemoteUnavailable
from server.register import states

log = logging.getLogger(__name__)

SYSTEM = "ciso_assistant"
#: Entries in these statuses are pushed (created or kept up to date).
PUSHED_STATUSES = (states.APPROVED, states.RESTRICTED)
#: Entries that were pushed and now wait for a (re)review: left alone until decided again.
HELD_STATUSES = (states.REVIEW_DUE, states.UNDER_REVIEW)
#: Entries that were pushed and are no longer sanctioned: their asset is marked withdrawn.
WITHDRAWN_STATUSES = (states.SUSPENDED, states.PROHIBITED, states.RETIRED)
#: Of those, the ones whose applied controls are set to ``deprecated`` (the use has ended).
ENDED_STATUSES = (states.PROHIBITED, states.RETIRED)

ObjectType = Literal["asset", "applied_control", "evidence"]
COLLECTIONS: Mapping[ObjectType, str] = {
    "asset": "assets/",
    "applied_control": "applied-controls/",
    "evidence": "evidences/",
}
_LABELS: Mapping[ObjectType, str] = {
    "asset": "asset",
    "applied_control": "applied control",
    "evidence": "evidence",
}
Action = Literal["created", "updated", "recreated", "skipped", "withdrawn", "held"]
_DRY_RUN_VERBS: Mapping[Action, str] = {
    "created": "would create",
    "updated": "would update",
    "recreated": "would re-create",
    "skipped": "skipped",
    "withdrawn": "would mark withdrawn",
    "held": "held",
}

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


# Configuration -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CisoAssistantConfig:
    """Where and as whom to push; built from the server settings."""

    api_url: str
    token: SecretStr
    folder_id: str
    public_url: str | None = None
    timeout_seconds: float = 30.0
    max_attempts: int = 4

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> CisoAssistantConfig:
        """Read the connector settings and the token; raises SettingsError naming the setting."""
        if not settings.ciso_assistant_url:
            raise SettingsError(
                "setting 'ciso_assistant_url' is required to push to CISO Assistant"
            )
        if not settings.ciso_assistant_folder_id:
            raise SettingsError(
                "setting 'ciso_assistant_folder_id' is required: the UUID of the folder (domain) "
                "that receives the objects"
            )
        return cls(
            api_url=settings.ciso_assistant_url,
            token=_read_token(settings),
            folder_id=settings.ciso_assistant_folder_id.lower(),
            public_url=settings.public_url,
            timeout_seconds=settings.ciso_assistant_timeout_seconds,
            max_attempts=settings.ciso_assistant_max_attempts,
        )


def _read_token(settings: ServerSettings) -> SecretStr:
    if settings.ciso_assistant_token is not None and settings.ciso_assistant_token_file:
        raise SettingsError(
            "set one of 'ciso_assistant_token' and 'ciso_assistant_token_file', not both"
        )
    if settings.ciso_assistant_token_file is not None:
        try:
            text = settings.ciso_assistant_token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"invalid setting 'ciso_assistant_token_file': cannot read "
                f"{settings.ciso_assistant_token_file}: {exc.strerror}"
            ) from exc
        token = SecretStr(text)
    elif settings.ciso_assistant_token is not None:
        token = SecretStr(settings.ciso_assistant_token.get_secret_value().strip())
    else:
        raise SettingsError(
            "setting 'ciso_assistant_token_file' (or 'ciso_assistant_token') is required"
        )
    value = token.get_secret_value()
    if not value or any(ch.isspace() for ch in value):
        raise SettingsError("the CISO Assistant token is empty or contains whitespace")
    return token


# HTTP client ---------------------------------------------------------------------------------


class CisoAssistantClient:
    """The few calls the connector makes, with retries; translates HTTP failures to errors."""

    def __init__(
        self,
        config: CisoAssistantConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 500,
    ) -> None:
        self._max_attempts = config.max_attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._page_size = page_size
        self._http = httpx.Client(
            base_url=config.api_url.rstrip("/") + "/",
            headers={
                # The header is built once here and never logged.
                "Authorization": f"Token {config.token.get_secret_value()}",
                "Accept": "application/json",
                "User-Agent": f"Shadowmap/{__version__}",
            },
            timeout=config.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CisoAssistantClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        label: str,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; retry 5xx and connection errors; raise on 401/403."""
        reason = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    if response.status_code in (401, 403):
                        raise RemoteAuthFailed(
                            SYSTEM, response.status_code, _detail(response, limit=200)
                        )
                    return response
                reason = f"HTTP {response.status_code}: {_detail(response, limit=200)}"
            log.warning(
                "CISO Assistant %s %s (%s): attempt %d/%d failed: %s",
                method,
                path,
                label,
                attempt,
                self._max_attempts,
                reason,
            )
            if attempt < self._max_attempts:
                self._sleep(self._backoff * 2 ** (attempt - 1))
        raise RemoteUnavailable(SYSTEM, label, self._max_attempts, reason)

    def check_folder(self, folder_id: str) -> None:
        """Make sure the configured folder exists and is visible to the token."""
        label = f"folder {folder_id}"
        response = self._request("GET", f"folders/{folder_id}/", label=label)
        if response.status_code == 404:
            raise RemoteRejected(
                SYSTEM,
                label,
                404,
                "no such folder (domain) visible to this token; check ciso_assistant_folder_id",
            )
        _raise_for_4xx(response, label)

    def list_ids(self, object_type: ObjectType, *, folder_id: str) -> set[str]:
        """Return the ids of every object of one kind in the folder (follows pagination)."""
        collection = COLLECTIONS[object_type]
        label = f"list of {_LABELS[object_type]}s"
        params = {"folder": folder_id, "limit": str(self._page_size), "offset": "0"}
        found: set[str] = set()
        while True:
            response = self._request("GET", collection, label=label, params=params)
            _raise_for_4xx(response, label)
            page = response.json()
            found.update(str(row["id"]) for row in page["results"])
            next_link = page.get("next")
            if not next_link:
                return found
            # ``next`` is a relative "path?query" in CISO Assistant; only its query is reused.
            params = dict(parse_qsl(urlsplit(next_link).query))

    def create(self, object_type: ObjectType, payload: Mapping[str, Any], *, label: str) -> str:
        """POST a new object; return the id CISO Assistant gave it. Raises RemoteRejected."""
        response = self._request("POST", COLLECTIONS[object_type], label=label, json=payload)
        _raise_for_4xx(response, label)
        return str(response.json()["id"])

    def update(
        self, object_type: ObjectType, remote_id: str, payload: Mapping[str, Any], *, label: str
    ) -> bool:
        """PATCH an object; return False when it no longer exists (404)."""
        path = f"{COLLECTIONS[object_type]}{remote_id}/"
        response = self._request("PATCH", path, label=label, json=payload)
        if response.status_code == 404:
            return False
        _raise_for_4xx(response, label)
        return True


def _detail(response: httpx.Response, *, limit: int) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


def _raise_for_4xx(response: httpx.Response, label: str) -> None:
    if response.status_code >= 400:
        raise RemoteRejected(SYSTEM, label, response.status_code, _detail(response, limit=500))


# What is pushed ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntrySnapshot:
    """The fields of a register entry that the push reads, detached from the session."""

    register_id: str
    status: str
    title: str
    ai_system: str
    business_unit: str
    purpose: str
    business_owner: str
    technical_owner: str
    data_classes: tuple[str, ...]
    personal_data: bool
    risk_level: str
    risk_rationale: str
    decision: str | None
    decision_conditions: str
    decision_rationale: str
    decided_by: str | None
    decided_at: dt.datetime | None
    controls: str
    next_review_on: dt.date | None
    dpia_screening: str
    supplier: str
    supplier_review: str
    eu_ai_act_class: str
    human_oversight: str
    evidence_links: tuple[str, ...]

    @classmethod
    def of(cls, entry: RegisterEntry) -> EntrySnapshot:
        return cls(
            register_id=entry.register_id,
            status=entry.status,
            title=entry.title,
            ai_system=entry.ai_system,
            business_unit=entry.business_unit,
            purpose=entry.purpose,
            business_owner=entry.business_owner,
            technical_owner=entry.technical_owner,
            data_classes=tuple(entry.data_classes),
            personal_data=entry.personal_data,
            risk_level=entry.risk_level,
            risk_rationale=entry.risk_rationale,
            decision=entry.decision,
            decision_conditions=entry.decision_conditions,
            decision_rationale=entry.decision_rationale,
            decided_by=entry.decided_by,
            decided_at=entry.decided_at,
            controls=entry.controls,
            next_review_on=entry.next_review_on,
            dpia_screening=entry.dpia_screening,
            supplier=entry.supplier,
            supplier_review=entry.supplier_review,
            eu_ai_act_class=entry.eu_ai_act_class,
            human_oversight=entry.human_oversight,
            evidence_links=tuple(entry.evidence_links),
        )


def split_lines(text: str) -> list[str]:
    """Split a free-text list (one item per line, bullets or numbers allowed) into items."""
    items = []
    for line in text.splitlines():
        item = _BULLET.sub("", line).strip()
        if item:
            items.append(item)
    return items


def payload_hash(payload: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical JSON of what is sent."""
    return hashlib.sha256(audit.canonical_json(payload).encode("utf-8")).hexdigest()


def _observation(entry: EntrySnapshot) -> str:
    """The governance facts CISO Assistant has no field for, as text on the asset."""
    decided = ""
    if entry.decided_at is not None:
        decided = f" by {entry.decided_by or '-'} on {entry.decided_at.date().isoformat()}"
    review = entry.next_review_on.isoformat() if entry.next_review_on else "-"
    lines = [
        f"Governed in Shadowmap as {entry.register_id} (status: {entry.status}).",
        f"AI system: {entry.ai_system}; supplier: {entry.supplier or '-'} "
        f"(supplier review: {entry.supplier_review})",
        f"Business unit: {entry.business_unit or '-'}",
        f"Business owner: {entry.business_owner or '-'}; "
        f"technical owner: {entry.technical_owner or '-'}",
        f"Risk level: {entry.risk_level}; EU AI Act: {entry.eu_ai_act_class}; "
        f"human oversight: {entry.human_oversight}",
        f"Data classes: {', '.join(entry.data_classes) or '-'} "
        f"(personal data: {'yes' if entry.personal_data else 'no'}; "
        f"DPIA screening: {entry.dpia_screening})",
        f"Decision: {entry.decision or '-'}{decided}; next review: {review}",
    ]
    if entry.risk_rationale.strip():
        lines.append(f"Risk rationale: {entry.risk_rationale.strip()}")
    return "\n".join(lines)


def _withdrawn_observation(entry: EntrySnapshot) -> str:
    return (
        f"WITHDRAWN in Shadowmap: {entry.register_id} is now {entry.status}; this asset is no "
        f"longer kept up to date and is left here for the record.\n" + _observation(entry)
    )


@dataclass(frozen=True, slots=True)
class PushAction:
    """One thing a push did (or, in a dry run, would do) to one remote object."""

    action: Action
    object_type: ObjectType | None
    local_id: str
    remote_id: str | None = None
    detail: str = ""

    def describe(self, *, dry_run: bool) -> str:
        kind = _LABELS[self.object_type] if self.object_type else "entry"
        verb = _DRY_RUN_VERBS[self.action] if dry_run else self.action
        text = f"{verb} {kind} {self.local_id}"
        if self.remote_id:
            text += f" -> {self.remote_id}"
        if self.detail:
            text += f" ({self.detail})"
        return text


@dataclass(slots=True)
class PushReport:
    """What one push did, in order."""

    dry_run: bool
    actions: list[PushAction] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for item in self.actions if item.action == action)

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(action)} {action}"
            for action in ("created", "updated", "recreated", "skipped", "withdrawn", "held")
        )
        return f"CISO Assistant push{' (dry run)' if self.dry_run else ''}: {counts}"


@dataclass(slots=True)
class _Link:
    remote_id: str
    remote_hash: str
    state: str
    register_id: str


_DRY_RUN_ID = "(new)"


class CisoAssistantConnector:
    """Push the register's approved and restricted entries into one CISO Assistant folder."""

    def __init__(
        self,
        client: CisoAssistantClient,
        sessions: sessionmaker[Session],
        *,
        folder_id: str,
        public_url: str | None,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._folder = folder_id
        self._public_url = public_url.rstrip("/") if public_url else None
        self._links: dict[tuple[ObjectType, str], _Link] = {}
        self._remote: dict[ObjectType, set[str]] = {}

    @classmethod
    def from_settings(
        cls,
        settings: ServerSettings,
        sessions: sessionmaker[Session],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> CisoAssistantConnector:
        """Build the connector from the settings; raises SettingsError."""
        config = CisoAssistantConfig.from_settings(settings)
        client = CisoAssistantClient(config, transport=transport)
        return cls(client, sessions, folder_id=config.folder_id, public_url=config.public_url)

    def close(self) -> None:
        self._client.close()

    def push(self, *, dry_run: bool = False) -> PushReport:
        """Bring CISO Assistant in line with the register; a dry run only reads.

        Each remote object's id is committed as soon as CISO Assistant returns it, so a
        failure part-way keeps what was done. Raises RemoteAuthFailed, RemoteRejected,
        RemoteUnavailable.
        """
        report = PushReport(dry_run=dry_run)
        with transaction(self._sessions) as session:
            entries = [
                EntrySnapshot.of(entry)
                for entry in _all_entries(session)
                if entry.status in PUSHED_STATUSES
                or entry.status in HELD_STATUSES
                or entry.status in WITHDRAWN_STATUSES
            ]
            self._links = {
                (_object_type(link.object_type), link.local_id): _Link(
                    link.remote_id, link.remote_hash, link.state, link.register_id
                )
                for link in external_links.list_external_links(session, system=SYSTEM)
                if link.object_type in COLLECTIONS
            }
        self._client.check_folder(self._folder)
        self._remote = {
            object_type: self._client.list_ids(object_type, folder_id=self._folder)
            for object_type in COLLECTIONS
        }
        pushed_ids = {link.register_id for link in self._links.values()}
        for entry in entries:
            if entry.status in PUSHED_STATUSES:
                self._push_entry(entry, report, dry_run=dry_run)
            elif entry.register_id in pushed_ids:
                if entry.status in HELD_STATUSES:
                    report.actions.append(
                        PushAction("held", None, entry.register_id, detail=entry.status)
                    )
                else:
                    self._withdraw_entry(entry, report, dry_run=dry_run)
        return report

    # One entry -----------------------------------------------------------------------------

    def _entry_url(self, register_id: str) -> str | None:
        return f"{self._public_url}/register/{register_id}" if self._public_url else None

    def _push_entry(self, entry: EntrySnapshot, report: PushReport, *, dry_run: bool) -> None:
        rid = entry.register_id
        url = self._entry_url(rid)
        asset_id = self._sync(
            report,
            dry_run,
            object_type="asset",
            local_id=rid,
            register_id=rid,
            payload={
                "name": entry.title,
                "ref_id": rid,
                "type": "PR",
                "folder": self._folder,
                "description": entry.purpose,
                "reference_link": url,
                "observation": _observation(entry),
            },
        )
        control_ids: list[str] = []
        wanted: set[tuple[ObjectType, str]] = {("asset", rid)}
        sources: list[tuple[str, str, str, str | None]] = [
            ("control", "C", item, None) for item in split_lines(entry.controls)
        ]
        if entry.status == states.RESTRICTED:
            sources += [
                ("condition", "R", item, "policy")
                for item in split_lines(entry.decision_conditions)
            ]
        numbers: dict[str, int] = {}
        for kind, prefix, item, category in sources:
            numbers[kind] = numbers.get(kind, 0) + 1
            local_id = f"{rid}/{kind}/{numbers[kind]}"
            wanted.add(("applied_control", local_id))
            origin = "Control" if kind == "control" else "Condition of the restricted approval"
            payload: dict[str, Any] = {
                "name": item[:200],
                "ref_id": f"{rid}-{prefix}{numbers[kind]}",
                "folder": self._folder,
                "description": f"{origin} recorded on register entry {rid} "
                f"({entry.title}) in Shadowmap:\n{item}",
                "assets": [asset_id],
                "link": url,
            }
            if category:
                payload["category"] = category
            control_ids.append(
                self._sync(
                    report,
                    dry_run,
                    object_type="applied_control",
                    local_id=local_id,
                    register_id=rid,
                    payload=payload,
                    # CISO Assistant owns the implementation status once the control exists.
                    create_only={"status": "to_do"},
                )
            )
        decision_lines = [
            f"Decision in Shadowmap on register entry {rid} ({entry.title}): {entry.decision}",
            f"Decided by {entry.decided_by or '-'} at "
            f"{entry.decided_at.isoformat() if entry.decided_at else '-'}",
            f"Rationale: {entry.decision_rationale or '-'}",
        ]
        if entry.decision_conditions.strip():
            decision_lines.append(f"Conditions: {entry.decision_conditions.strip()}")
        evidence_sources = [
            (
                f"{rid}/decision",
                {
                    "name": f"{rid} decision record",
                    "description": "\n".join(decision_lines),
                    "link": url,
                    "expiry_date": (
                        entry.next_review_on.isoformat() if entry.next_review_on else None
                    ),
                },
            )
        ]
        for number, evidence_url in enumerate(entry.evidence_links, start=1):
            evidence_sources.append(
                (
                    f"{rid}/evidence/{number}",
                    {
                        "name": f"{rid} evidence {number}",
                        "description": f"Evidence recorded on register entry {rid} "
                        f"({entry.title}) in Shadowmap: {evidence_url}",
                        "link": evidence_url,
                    },
                )
            )
        for local_id, fields in evidence_sources:
            wanted.add(("evidence", local_id))
            self._sync(
                report,
                dry_run,
                object_type="evidence",
                local_id=local_id,
                register_id=rid,
                payload={**fields, "folder": self._folder, "applied_controls": control_ids},
            )
        # Controls and evidence that no longer come from the entry: deprecated, never deleted.
        for (object_type, local_id), link in sorted(self._links.items()):
            if link.register_id != rid or (object_type, local_id) in wanted:
                continue
            if link.state == "withdrawn":
                continue
            self._retire_object(report, dry_run, object_type, local_id, link, "removed")

    def _withdraw_entry(self, entry: EntrySnapshot, report: PushReport, *, dry_run: bool) -> None:
        rid = entry.register_id
        asset = self._links.get(("asset", rid))
        if asset is not None:
            payload = {"observation": _withdrawn_observation(entry)}
            self._mark(report, dry_run, "asset", rid, asset, payload, entry.status)
        if entry.status not in ENDED_STATUSES:
            return
        for (object_type, local_id), link in sorted(self._links.items()):
            if object_type == "applied_control" and link.register_id == rid:
                if link.state != "withdrawn":
                    self._retire_object(report, dry_run, object_type, local_id, link, entry.status)

    def _retire_object(
        self,
        report: PushReport,
        dry_run: bool,
        object_type: ObjectType,
        local_id: str,
        link: _Link,
        reason: str,
    ) -> None:
        payload: dict[str, Any] = (
            {"status": "deprecated"} if object_type == "applied_control" else {}
        )
        self._mark(report, dry_run, object_type, local_id, link, payload, reason)

    def _mark(
        self,
        report: PushReport,
        dry_run: bool,
        object_type: ObjectType,
        local_id: str,
        link: _Link,
        payload: dict[str, Any],
        reason: str,
    ) -> None:
        """Mark a remote object withdrawn (PATCH ``payload`` if any), once."""
        digest = payload_hash({"withdrawn": reason, **payload})
        if link.state == "withdrawn" and link.remote_hash == digest:
            return
        label = f"{_LABELS[object_type]} {local_id}"
        detail = reason
        if payload and link.remote_id in self._remote[object_type] and not dry_run:
            if not self._client.update(object_type, link.remote_id, payload, label=label):
                detail = f"{reason}; already gone from CISO Assistant"
        elif payload and link.remote_id not in self._remote[object_type]:
            detail = f"{reason}; already gone from CISO Assistant"
        report.actions.append(
            PushAction("withdrawn", object_type, local_id, link.remote_id, detail)
        )
        if not dry_run:
            self._store(
                object_type, local_id, link.register_id, link.remote_id, digest, "withdrawn"
            )

    # One object ----------------------------------------------------------------------------

    def _sync(
        self,
        report: PushReport,
        dry_run: bool,
        *,
        object_type: ObjectType,
        local_id: str,
        register_id: str,
        payload: dict[str, Any],
        create_only: Mapping[str, Any] | None = None,
    ) -> str:
        """Create, update or skip one remote object; return its id (a placeholder in a dry run)."""
        label = f"{_LABELS[object_type]} {local_id}"
        digest = payload_hash(payload)
        link = self._links.get((object_type, local_id))
        exists = link is not None and link.remote_id in self._remote[object_type]
        if link is not None and exists:
            if link.remote_hash == digest and link.state == "active":
                report.actions.append(PushAction("skipped", object_type, local_id, link.remote_id))
                return link.remote_id
            # A withdrawn object taken back into use gets its create-only fields again (e.g. a
            # deprecated control goes back to "to do").
            patch = payload if link.state == "active" else {**payload, **(create_only or {})}
            if dry_run or self._client.update(object_type, link.remote_id, patch, label=label):
                report.actions.append(PushAction("updated", object_type, local_id, link.remote_id))
                if not dry_run:
                    self._store(object_type, local_id, register_id, link.remote_id, digest)
                return link.remote_id
            # Deleted between the listing and the PATCH: create it again below.
        action: Action = "recreated" if link is not None else "created"
        if dry_run:
            report.actions.append(PushAction(action, object_type, local_id))
            return _DRY_RUN_ID
        remote_id = self._client.create(
            object_type, {**payload, **(create_only or {})}, label=label
        )
        self._remote[object_type].add(remote_id)
        self._store(object_type, local_id, register_id, remote_id, digest)
        report.actions.append(PushAction(action, object_type, local_id, remote_id))
        return remote_id

    def _store(
        self,
        object_type: ObjectType,
        local_id: str,
        register_id: str,
        remote_id: str,
        digest: str,
        state: str = "active",
    ) -> None:
        """Commit one link at once, so ids survive a failure later in the push."""
        with transaction(self._sessions) as session:
            external_links.upsert_external_link(
                session,
                system=SYSTEM,
                object_type=object_type,
                local_id=local_id,
                register_id=register_id,
                remote_id=remote_id,
                remote_hash=digest,
                state=state,
            )
        self._links[(object_type, local_id)] = _Link(remote_id, digest, state, register_id)


def _object_type(value: str) -> ObjectType:
    for object_type in COLLECTIONS:
        if object_type == value:
            return object_type
    raise ValueError(f"unknown object type {value!r}")


def _all_entries(session: Session, *, batch: int = 500) -> Iterator[RegisterEntry]:
    offset = 0
    while True:
        page: Sequence[RegisterEntry] = register.list_register_entries(
            session, limit=batch, offset=offset
        )
        yield from page
        if len(page) < batch:
            return
        offset += batch
