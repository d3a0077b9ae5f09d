"""Push the governed register into CISO Assistant through its REST API (DRF, Knox tokens).

Every approved or restricted register entry becomes a primary Asset in one folder (domain);
its controls and, for a restricted entry, its conditions of use become AppliedControls on
that asset; its decision record and evidence links become Evidence attached to those
controls; its risk becomes a RiskScenario in a configured risk assessment; its supplier
becomes a third-party (TPRM) Entity. The ids CISO Assistant returns are kept in
``external_links`` with what was sent, so that a second push sends nothing for an unchanged
entry, PATCHes a changed one, re-creates an object someone deleted, and tells an edit made in
CISO Assistant (drift) from one made in Shadowmap. Every write is read back and compared.
Nothing is ever deleted remotely: an entry that leaves the pushed statuses is marked on its
asset (see docs/integrations.md).

Evidence links live on evidence revisions in CISO Assistant (3.x): a changed link is a new
revision (``POST evidence-revisions/`` with version n+1), never a PATCH of the evidence, which
CISO Assistant answers 200 while keeping the old link.
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
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from collector.db import transaction
from collector.store import audit, external_links, register
from collector.store.register import RegisterEntry
from server import __version__
from server.config import ServerSettings
from server.errors import DestinationRefused, SettingsError
from server.integrations.errors import (
    IntegrationError,
    RemoteAuthFailed,
    RemoteForbidden,
    RemoteMalformed,
    RemoteMismatch,
    RemoteNotAllowed,
    RemoteRejected,
    RemoteUnavailable,
)
from server.integrations.http import HttpAnswer, HttpxSender, OutboundHttp, TransportFailed
from server.links import link_problem
from server.outbound.client import outbound_transport
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
#: What to do when CISO Assistant holds another value than Shadowmap last sent.
DRIFT_POLICIES = ("keep", "overwrite")

ObjectType = Literal["asset", "applied_control", "evidence", "risk_scenario", "entity"]
COLLECTIONS: Mapping[ObjectType, str] = {
    "asset": "assets/",
    "applied_control": "applied-controls/",
    "evidence": "evidences/",
    "risk_scenario": "risk-scenarios/",
    "entity": "entities/",
}
REVISIONS = "evidence-revisions/"
_LABELS: Mapping[ObjectType, str] = {
    "asset": "asset",
    "applied_control": "applied control",
    "evidence": "evidence",
    "risk_scenario": "risk scenario",
    "entity": "entity",
}
#: Choice fields that CISO Assistant's read serializers show by their label.
_DISPLAYED: Mapping[ObjectType, Mapping[str, Mapping[str, str]]] = {
    "asset": {"type": {"PR": "Primary", "SP": "Support"}},
    "applied_control": {
        "category": {
            "policy": "Policy",
            "process": "Process",
            "technical": "Technical",
            "physical": "Physical",
            "procedure": "Procedure",
        }
    },
}
#: Fields whose value is a link; each is checked before it is sent and never sent as null.
_LINK_FIELDS = ("reference_link", "link")
#: Risk scenario treatment per decision (CISO Assistant's TREATMENT_OPTIONS).
TREATMENTS = {
    states.APPROVED: "accept",
    states.RESTRICTED: "mitigate",
    states.PROHIBITED: "avoid",
    states.RETIRED: "cancelled",
}
Action = Literal[
    "created", "updated", "recreated", "skipped", "withdrawn", "held", "adopted", "drift", "failed"
]
ACTIONS: tuple[Action, ...] = (
    "created",
    "updated",
    "recreated",
    "skipped",
    "withdrawn",
    "held",
    "adopted",
    "drift",
    "failed",
)
_DRY_RUN_VERBS: Mapping[Action, str] = {
    "created": "would create",
    "updated": "would update",
    "recreated": "would re-create",
    "adopted": "would adopt",
    "skipped": "skipped",
    "withdrawn": "would mark withdrawn",
    "held": "held",
    "drift": "drift",
    "failed": "failed",
}

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
#: A listing that has not ended after this many pages is taken as broken.
MAX_PAGES = 10_000


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
    risk_assessment_id: str | None = None
    on_drift: str = "keep"

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
        risk_assessment = settings.ciso_assistant_risk_assessment_id
        return cls(
            api_url=settings.ciso_assistant_url,
            token=_read_token(settings),
            folder_id=settings.ciso_assistant_folder_id.lower(),
            public_url=settings.public_url,
            timeout_seconds=settings.ciso_assistant_timeout_seconds,
            max_attempts=settings.ciso_assistant_max_attempts,
            risk_assessment_id=risk_assessment.lower() if risk_assessment else None,
            on_drift=settings.ciso_assistant_on_drift,
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


Row = dict[str, Any]


class CisoAssistantClient:
    """The calls the connector makes, with retries; translates HTTP failures to errors.

    Every request goes through ``http`` (the seam to the network, see
    server/integrations/http.py), so the transport can be swapped without touching the rest.
    """

    def __init__(
        self,
        config: CisoAssistantConfig,
        *,
        http: OutboundHttp | None = None,
        backoff_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 500,
    ) -> None:
        self._base = config.api_url.rstrip("/") + "/"
        self._folder = config.folder_id
        self._timeout = config.timeout_seconds
        self._max_attempts = config.max_attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._page_size = page_size
        self._http = http if http is not None else HttpxSender()
        # Built once here and never logged.
        self._headers = {
            "Authorization": f"Token {config.token.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": f"Shadowmap/{__version__}",
        }

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
    ) -> HttpAnswer:
        """Send one request; retry 5xx and transport failures; raise on 401 and 403."""
        url = self._base + path + (f"?{urlencode(params)}" if params else "")
        reason = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                answer = self._http.send(
                    method, url, headers=self._headers, json=json, timeout=self._timeout
                )
            except TransportFailed as exc:
                reason = str(exc)
            except DestinationRefused as exc:  # never retried: the answer would not change
                log.warning("CISO Assistant host refused by the outbound policy: %s", exc)
                raise RemoteNotAllowed(SYSTEM, exc.host) from exc
            else:
                if answer.status < 500:
                    if answer.status == 401:
                        raise RemoteAuthFailed(SYSTEM, 401, _detail(answer, limit=200))
                    if answer.status == 403:
                        raise RemoteForbidden(
                            SYSTEM, label, self._folder, _detail(answer, limit=300)
                        )
                    return answer
                reason = f"HTTP {answer.status}: {_detail(answer, limit=200)}"
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
        answer = self._request("GET", f"folders/{folder_id}/", label=label)
        if answer.status == 404:
            raise RemoteRejected(
                SYSTEM,
                label,
                404,
                "no such folder (domain) visible to this token; check ciso_assistant_folder_id",
            )
        _raise_for_4xx(answer, label)

    def check_risk_assessment(self, risk_assessment_id: str) -> None:
        """Make sure the configured risk assessment exists and is visible to the token."""
        label = f"risk assessment {risk_assessment_id}"
        answer = self._request("GET", f"risk-assessments/{risk_assessment_id}/", label=label)
        if answer.status == 404:
            raise RemoteRejected(
                SYSTEM,
                label,
                404,
                "no such risk assessment visible to this token; check "
                "ciso_assistant_risk_assessment_id",
            )
        _raise_for_4xx(answer, label)

    def list_rows(
        self, collection: str, *, params: Mapping[str, str], label: str
    ) -> dict[str, Row]:
        """Return every object of a listing by id, following ``next`` pages.

        Tolerates what a live listing can do between two pages (rows shifting, a row shown
        twice); refuses a listing whose pages do not advance. A row missing from the listing
        is looked up by id before anything is re-created, so a skipped row costs a read,
        never a duplicate.
        """
        query = {**params, "limit": str(self._page_size), "offset": "0"}
        found: dict[str, Row] = {}
        seen_queries: set[tuple[tuple[str, str], ...]] = set()
        for _page in range(MAX_PAGES):
            key = tuple(sorted(query.items()))
            if key in seen_queries:
                raise RemoteMalformed(SYSTEM, label, f"the listing's next page repeats {query}")
            seen_queries.add(key)
            answer = self._request("GET", collection, label=label, params=query)
            _raise_for_4xx(answer, label)
            page = _json_object(answer, label)
            results = page.get("results")
            if not isinstance(results, list):
                raise RemoteMalformed(SYSTEM, label, "a listing page without 'results'")
            for row in results:
                if isinstance(row, dict) and "id" in row:
                    found[str(row["id"])] = row
            next_link = page.get("next")
            if not next_link:
                return found
            if not isinstance(next_link, str):
                raise RemoteMalformed(SYSTEM, label, f"'next' is {next_link!r}")
            # ``next`` is a relative "path?query" in CISO Assistant (an absolute URL behind
            # some proxies): only its query is reused, always on the same collection.
            query = dict(parse_qsl(urlsplit(next_link).query))
        raise RemoteMalformed(SYSTEM, label, f"the listing did not end after {MAX_PAGES} pages")

    def list_objects(self, object_type: ObjectType, *, params: Mapping[str, str]) -> dict[str, Row]:
        return self.list_rows(
            COLLECTIONS[object_type], params=params, label=f"list of {_LABELS[object_type]}s"
        )

    def get(self, object_type: ObjectType, remote_id: str, *, label: str) -> Row | None:
        """Read one object as CISO Assistant shows it; None when it does not exist (404)."""
        answer = self._request("GET", f"{COLLECTIONS[object_type]}{remote_id}/", label=label)
        if answer.status == 404:
            return None
        _raise_for_4xx(answer, label)
        return _json_object(answer, label)

    def create(self, object_type: ObjectType, payload: Mapping[str, Any], *, label: str) -> str:
        """POST a new object; return the id CISO Assistant gave it. Raises RemoteRejected."""
        answer = self._request("POST", COLLECTIONS[object_type], label=label, json=payload)
        _raise_for_4xx(answer, label)
        created = _json_object(answer, label)
        if "id" not in created:
            raise RemoteMalformed(SYSTEM, label, "the created object has no id")
        return str(created["id"])

    def update(
        self, object_type: ObjectType, remote_id: str, payload: Mapping[str, Any], *, label: str
    ) -> bool:
        """PATCH an object; return False when it no longer exists (404)."""
        path = f"{COLLECTIONS[object_type]}{remote_id}/"
        answer = self._request("PATCH", path, label=label, json=payload)
        if answer.status == 404:
            return False
        _raise_for_4xx(answer, label)
        return True

    def add_evidence_revision(self, evidence_id: str, link: str, *, label: str) -> None:
        """Give an evidence a new link: a revision numbered one above its newest."""
        revisions = self.list_rows(
            REVISIONS, params={"evidence": evidence_id}, label=f"revisions of {label}"
        )
        newest = max(
            (int(row.get("version") or 0) for row in revisions.values()),
            default=0,
        )
        payload = {
            "evidence": evidence_id,
            "version": newest + 1,
            "link": link,
            "folder": self._folder,
        }
        answer = self._request("POST", REVISIONS, label=f"{label} (new revision)", json=payload)
        _raise_for_4xx(answer, f"{label} (new revision)")


def _detail(answer: HttpAnswer, *, limit: int) -> str:
    text = answer.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "")


def _raise_for_4xx(answer: HttpAnswer, label: str) -> None:
    if answer.status >= 400:
        raise RemoteRejected(SYSTEM, label, answer.status, _detail(answer, limit=500))


def _json_object(answer: HttpAnswer, label: str) -> Row:
    try:
        value = answer.json()
    except ValueError as exc:
        raise RemoteMalformed(
            SYSTEM, label, f"HTTP {answer.status} with a body that is not JSON"
        ) from exc
    if not isinstance(value, dict):
        raise RemoteMalformed(SYSTEM, label, f"a JSON {type(value).__name__}, not an object")
    return value


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

    @property
    def failures(self) -> list[PushAction]:
        """The objects that could not be pushed or did not read back as sent."""
        return [item for item in self.actions if item.action == "failed"]

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(action)} {action}" for action in ACTIONS)
        return f"CISO Assistant push{' (dry run)' if self.dry_run else ''}: {counts}"


@dataclass(slots=True)
class _Link:
    remote_id: str
    remote_hash: str
    state: str
    register_id: str
    sent: dict[str, Any] | None


_DRY_RUN_ID = "(new)"
_MISSING = object()
#: The hash stored for an object whose last write did not read back as sent: never equal to
#: a real hash, so the next push compares and writes it again.
_UNVERIFIED = "unverified"


def _norm(value: Any) -> Any:
    """A value as CISO Assistant stores it, comparable between what is sent and what is read:
    related objects by id, lists as sorted ids, text stripped (DRF trims it), blank as None."""
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    if isinstance(value, list):
        return sorted(str(_norm(item)) for item in value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _as_written(object_type: ObjectType, row: Row) -> dict[str, Any]:
    """Turn a read representation back into write values (labels to choice values)."""
    written: dict[str, Any] = {}
    displayed = _DISPLAYED.get(object_type, {})
    for name, value in row.items():
        labels = displayed.get(name)
        if labels and isinstance(value, str):
            value = {label: key for key, label in labels.items()}.get(value, value)
        written[name] = _norm(value)
    return written


def _mismatches(
    object_type: ObjectType, row: Row, expected: Mapping[str, Any]
) -> dict[str, tuple[object, object]]:
    stored = _as_written(object_type, row)
    return {
        name: (want, row.get(name))
        for name, want in expected.items()
        if stored.get(name, _MISSING) != _norm(want)
    }


class CisoAssistantConnector:
    """Push the register's approved and restricted entries into one CISO Assistant folder."""

    def __init__(
        self,
        client: CisoAssistantClient,
        sessions: sessionmaker[Session],
        *,
        folder_id: str,
        public_url: str | None,
        risk_assessment_id: str | None = None,
        on_drift: str = "keep",
    ) -> None:
        if on_drift not in DRIFT_POLICIES:
            raise SettingsError(f"ciso_assistant_on_drift must be one of {DRIFT_POLICIES}")
        self._client = client
        self._sessions = sessions
        self._folder = folder_id
        self._public_url = public_url.rstrip("/") if public_url else None
        self._risk_assessment = risk_assessment_id
        self._on_drift = on_drift
        self._links: dict[tuple[ObjectType, str], _Link] = {}
        self._remote: dict[ObjectType, dict[str, Row]] = {}
        self._entities: dict[str, str | None] = {}

    @classmethod
    def from_settings(
        cls,
        settings: ServerSettings,
        sessions: sessionmaker[Session],
        *,
        http: OutboundHttp | None = None,
    ) -> CisoAssistantConnector:
        """Build the connector from the settings; raises SettingsError."""
        config = CisoAssistantConfig.from_settings(settings)
        if http is None:
            # Every call goes through the server's one outbound client (destination policy
            # after DNS resolution, per-destination limits).
            http = HttpxSender(transport=outbound_transport(settings))
        client = CisoAssistantClient(config, http=http)
        return cls(
            client,
            sessions,
            folder_id=config.folder_id,
            public_url=config.public_url,
            risk_assessment_id=config.risk_assessment_id,
            on_drift=config.on_drift,
        )

    def close(self) -> None:
        self._client.close()

    def push(self, *, dry_run: bool = False) -> PushReport:
        """Bring CISO Assistant in line with the register; a dry run only reads.

        An object CISO Assistant refuses (4xx) or that does not read back as sent is reported
        as ``failed`` and the push goes on with the rest; each remote id is committed as soon
        as CISO Assistant returns it. Raises RemoteAuthFailed, RemoteRejected (for the folder
        or risk assessment checked first), RemoteMalformed, RemoteUnavailable: those stop it.
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
                    link.remote_id, link.remote_hash, link.state, link.register_id, link.sent
                )
                for link in external_links.list_external_links(session, system=SYSTEM)
                if link.object_type in COLLECTIONS
            }
        self._client.check_folder(self._folder)
        if self._risk_assessment:
            self._client.check_risk_assessment(self._risk_assessment)
        in_folder = {"folder": self._folder}
        self._remote = {
            "asset": self._client.list_objects("asset", params=in_folder),
            "applied_control": self._client.list_objects("applied_control", params=in_folder),
            "evidence": self._client.list_objects("evidence", params=in_folder),
            "entity": self._client.list_objects("entity", params=in_folder),
            "risk_scenario": (
                self._client.list_objects(
                    "risk_scenario", params={"risk_assessment": self._risk_assessment}
                )
                if self._risk_assessment
                else {}
            ),
        }
        self._entities = {}
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
        if asset_id is None:
            return  # reported; the entry's other objects need their asset
        if entry.supplier.strip():
            self._sync_supplier(entry.supplier.strip(), report, dry_run)
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
            control_id = self._sync(
                report,
                dry_run,
                object_type="applied_control",
                local_id=local_id,
                register_id=rid,
                payload=payload,
                # CISO Assistant owns the implementation status once the control exists.
                create_only={"status": "to_do"},
            )
            if control_id is not None:
                control_ids.append(control_id)
        decision_lines = [
            f"Decision in Shadowmap on register entry {rid} ({entry.title}): {entry.decision}",
            f"Decided by {entry.decided_by or '-'} at "
            f"{entry.decided_at.isoformat() if entry.decided_at else '-'}",
            f"Rationale: {entry.decision_rationale or '-'}",
        ]
        if entry.decision_conditions.strip():
            decision_lines.append(f"Conditions: {entry.decision_conditions.strip()}")
        evidence_sources: list[tuple[str, dict[str, Any]]] = [
            (
                f"{rid}/decision",
                {
                    "name": f"{rid} decision record",
                    "description": "\n".join(decision_lines),
                    # Left out when there is no public URL: CISO Assistant refuses a null link.
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
        if self._risk_assessment:
            wanted.add(("risk_scenario", rid))
            self._sync(
                report,
                dry_run,
                object_type="risk_scenario",
                local_id=rid,
                register_id=rid,
                payload=_risk_scenario(entry, self._risk_assessment, asset_id, control_ids),
            )
        # Objects that no longer come from the entry: deprecated or marked, never deleted.
        for (object_type, local_id), link in sorted(self._links.items()):
            if link.register_id != rid or (object_type, local_id) in wanted:
                continue
            if link.state == "withdrawn":
                continue
            self._retire_object(report, dry_run, object_type, local_id, link, "removed")

    def _sync_supplier(self, supplier: str, report: PushReport, dry_run: bool) -> str | None:
        """Create or adopt the TPRM entity of a supplier, once per push."""
        key = supplier.casefold()
        if key not in self._entities:
            local_id = (
                f"supplier/{key}"
                if len(key) <= 55
                else f"supplier/{hashlib.sha256(key.encode()).hexdigest()[:20]}"
            )
            self._entities[key] = self._sync(
                report,
                dry_run,
                object_type="entity",
                local_id=local_id,
                register_id="",
                payload={
                    "name": supplier[:200],
                    "folder": self._folder,
                    "description": "Supplier of AI services used under Shadowmap's governed AI "
                    "register (the register entries' assets in this folder name it).",
                },
                adopt_by_name=True,
            )
        return self._entities[key]

    def _withdraw_entry(self, entry: EntrySnapshot, report: PushReport, *, dry_run: bool) -> None:
        rid = entry.register_id
        asset = self._links.get(("asset", rid))
        if asset is not None:
            payload = {"observation": _withdrawn_observation(entry)}
            self._mark(report, dry_run, "asset", rid, asset, payload, entry.status)
        if entry.status not in ENDED_STATUSES:
            return
        for (object_type, local_id), link in sorted(self._links.items()):
            if link.register_id != rid or link.state == "withdrawn":
                continue
            if object_type == "applied_control":
                self._retire_object(report, dry_run, object_type, local_id, link, entry.status)
            elif object_type == "risk_scenario":
                payload = {"treatment": TREATMENTS[entry.status]}
                self._mark(report, dry_run, object_type, local_id, link, payload, entry.status)

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
        """Mark a remote object withdrawn (PATCH ``payload`` if any, read back), once."""
        digest = payload_hash({"withdrawn": reason, **payload})
        if link.state == "withdrawn" and link.remote_hash == digest:
            return
        label = f"{_LABELS[object_type]} {local_id}"
        detail = reason
        try:
            if payload and link.remote_id in self._remote[object_type] and not dry_run:
                if self._client.update(object_type, link.remote_id, payload, label=label):
                    self._verify(object_type, link.remote_id, payload, label)
                else:
                    detail = f"{reason}; already gone from CISO Assistant"
            elif payload and link.remote_id not in self._remote[object_type]:
                detail = f"{reason}; already gone from CISO Assistant"
        except (RemoteRejected, RemoteMismatch) as exc:
            report.actions.append(
                PushAction("failed", object_type, local_id, link.remote_id, _reason(exc))
            )
            return
        report.actions.append(
            PushAction("withdrawn", object_type, local_id, link.remote_id, detail)
        )
        if not dry_run:
            # What the mark wrote is what Shadowmap last sent (not a CISO Assistant edit).
            self._store(
                object_type,
                local_id,
                link.register_id,
                link.remote_id,
                digest,
                "withdrawn",
                sent={**(link.sent or {}), **payload},
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
        adopt_by_name: bool = False,
    ) -> str | None:
        """Create, update or skip one remote object; return its id (a placeholder in a dry
        run), or None when CISO Assistant refused to create it (reported as ``failed``)."""
        label = f"{_LABELS[object_type]} {local_id}"
        # A link is never sent as null (CISO Assistant refuses it): left out instead.
        payload = {
            name: value
            for name, value in payload.items()
            if not (name in _LINK_FIELDS and value is None)
        }
        link = self._links.get((object_type, local_id))
        existing_id = link.remote_id if link is not None else None
        for name in _LINK_FIELDS:
            if name in payload and (problem := link_problem(payload[name])) is not None:
                report.actions.append(
                    PushAction(
                        "failed",
                        object_type,
                        local_id,
                        existing_id,
                        f"not sent: {name} {payload[name]!r} would be refused: {problem}",
                    )
                )
                return existing_id
        try:
            remote = self._remote_row(object_type, link, label) if link is not None else None
            if remote is None and link is None and adopt_by_name:
                adopted = self._find_by_name(object_type, str(payload["name"]))
                if adopted is not None:
                    link = _Link(str(adopted["id"]), _UNVERIFIED, "active", register_id, None)
                    remote = adopted
                    report.actions.append(
                        PushAction("adopted", object_type, local_id, link.remote_id)
                    )
            if link is not None and remote is not None:
                return self._update(
                    report,
                    dry_run,
                    object_type,
                    local_id,
                    register_id,
                    payload,
                    link,
                    remote,
                    create_only,
                )
            return self._create(
                report, dry_run, object_type, local_id, register_id, payload, link, create_only
            )
        except (RemoteRejected, RemoteMismatch) as exc:
            known = self._links.get((object_type, local_id))
            remote_id = known.remote_id if known is not None else None
            report.actions.append(
                PushAction("failed", object_type, local_id, remote_id, _reason(exc))
            )
            return remote_id

    def _remote_row(self, object_type: ObjectType, link: _Link, label: str) -> Row | None:
        """What CISO Assistant holds for a link: from the listing, else read by id (a live
        listing can skip a row; only a 404 means it is gone)."""
        row = self._remote[object_type].get(link.remote_id)
        if row is None:
            row = self._client.get(object_type, link.remote_id, label=label)
            if row is not None:
                self._remote[object_type][link.remote_id] = row
        return row

    def _find_by_name(self, object_type: ObjectType, name: str) -> Row | None:
        # CISO Assistant's names are unique per folder, case-insensitively.
        for row in self._remote[object_type].values():
            if str(row.get("name") or "").strip().casefold() == name.strip().casefold():
                return row
        return None

    def _create(
        self,
        report: PushReport,
        dry_run: bool,
        object_type: ObjectType,
        local_id: str,
        register_id: str,
        payload: dict[str, Any],
        link: _Link | None,
        create_only: Mapping[str, Any] | None,
    ) -> str:
        label = f"{_LABELS[object_type]} {local_id}"
        action: Action = "recreated" if link is not None else "created"
        if dry_run:
            report.actions.append(PushAction(action, object_type, local_id))
            return _DRY_RUN_ID
        remote_id = self._client.create(
            object_type, {**payload, **(create_only or {})}, label=label
        )
        # Kept at once (unverified), so that a failed read-back never leads to a duplicate.
        self._store(object_type, local_id, register_id, remote_id, _UNVERIFIED)
        self._verify(object_type, remote_id, {**payload, **(create_only or {})}, label)
        self._store(
            object_type, local_id, register_id, remote_id, payload_hash(payload), sent=payload
        )
        report.actions.append(PushAction(action, object_type, local_id, remote_id))
        return remote_id

    def _update(
        self,
        report: PushReport,
        dry_run: bool,
        object_type: ObjectType,
        local_id: str,
        register_id: str,
        payload: dict[str, Any],
        link: _Link,
        remote: Row,
        create_only: Mapping[str, Any] | None,
    ) -> str:
        """Three-way compare what was last sent, what CISO Assistant holds and what the
        register says now; write what Shadowmap changed, report what CISO Assistant changed."""
        label = f"{_LABELS[object_type]} {local_id}"
        digest = payload_hash(payload)
        base = link.sent if link.sent is not None else None
        if base is None and link.remote_hash == digest:
            base = payload
        held = _as_written(object_type, remote)
        to_send: dict[str, Any] = {}
        drifted: list[str] = []
        conflicting: list[str] = []
        for name, want in payload.items():
            theirs = held.get(name, _MISSING)
            mine = _norm(want)
            if theirs == mine:
                continue
            old = _norm(base[name]) if base is not None and name in base else _MISSING
            if old is not _MISSING and theirs != old and mine == old:
                # Edited in CISO Assistant only: drift, kept or overwritten by the setting.
                drifted.append(name)
                if self._on_drift == "overwrite":
                    to_send[name] = want
            else:
                if old is not _MISSING and theirs != old:
                    # Edited on both sides: the entry changed since, so its value is the
                    # newer decision and wins; reported.
                    conflicting.append(name)
                to_send[name] = want
        if link.state != "active":
            # Taken back into use: the create-only fields again (a deprecated control goes
            # back to "to do").
            to_send.update(create_only or {})
        if drifted or conflicting:
            parts = []
            if drifted:
                fate = (
                    "overwritten with Shadowmap's values"
                    if self._on_drift == "overwrite"
                    else "kept (ciso_assistant_on_drift=keep)"
                )
                parts.append(f"edited in CISO Assistant: {', '.join(drifted)}; {fate}")
            if conflicting:
                parts.append(
                    f"edited in CISO Assistant and since changed in Shadowmap: "
                    f"{', '.join(conflicting)}; Shadowmap's newer values written"
                )
            report.actions.append(
                PushAction("drift", object_type, local_id, link.remote_id, " | ".join(parts))
            )
        if not to_send:
            if not dry_run and (
                link.remote_hash != digest or link.sent != payload or link.state != "active"
            ):
                self._store(
                    object_type, local_id, register_id, link.remote_id, digest, sent=payload
                )
            if not (drifted or conflicting):
                report.actions.append(PushAction("skipped", object_type, local_id, link.remote_id))
            return link.remote_id
        if dry_run:
            report.actions.append(PushAction("updated", object_type, local_id, link.remote_id))
            return link.remote_id
        new_link = to_send.pop("link", None) if object_type == "evidence" else None
        if to_send and not self._client.update(object_type, link.remote_id, to_send, label=label):
            # Deleted between the listing and the PATCH: create it again.
            return self._create(
                report, dry_run, object_type, local_id, register_id, payload, link, create_only
            )
        if new_link is not None:
            # The link of an evidence is on its revisions; a PATCH would be answered 200 and
            # change nothing.
            self._client.add_evidence_revision(link.remote_id, new_link, label=label)
            to_send["link"] = new_link
        self._store(object_type, local_id, register_id, link.remote_id, _UNVERIFIED, sent=link.sent)
        self._verify(object_type, link.remote_id, to_send, label)
        self._store(object_type, local_id, register_id, link.remote_id, digest, sent=payload)
        report.actions.append(PushAction("updated", object_type, local_id, link.remote_id))
        return link.remote_id

    def _verify(
        self, object_type: ObjectType, remote_id: str, expected: Mapping[str, Any], label: str
    ) -> None:
        """Read a written object back; raises RemoteMismatch when it differs from what was
        sent (or is gone)."""
        row = self._client.get(object_type, remote_id, label=label)
        if row is None:
            raise RemoteMismatch(SYSTEM, label, {"id": (remote_id, None)})
        self._remote[object_type][remote_id] = row
        wrong = _mismatches(object_type, row, expected)
        if wrong:
            raise RemoteMismatch(SYSTEM, label, wrong)

    def _store(
        self,
        object_type: ObjectType,
        local_id: str,
        register_id: str,
        remote_id: str,
        digest: str,
        state: str = "active",
        *,
        sent: dict[str, Any] | None = None,
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
                sent=sent,
            )
        previous = self._links.get((object_type, local_id))
        kept = sent if sent is not None else (previous.sent if previous else None)
        self._links[(object_type, local_id)] = _Link(remote_id, digest, state, register_id, kept)


def _risk_scenario(
    entry: EntrySnapshot, risk_assessment: str, asset_id: str, control_ids: list[str]
) -> dict[str, Any]:
    """The entry's risk as a scenario; probability and impact are rated in CISO Assistant."""
    rid = entry.register_id
    description = (
        f"Use of {entry.ai_system} governed as register entry {rid} in Shadowmap. "
        f"Risk level in Shadowmap: {entry.risk_level}; EU AI Act: {entry.eu_ai_act_class}; "
        f"data classes: {', '.join(entry.data_classes) or '-'}."
    )
    return {
        "risk_assessment": risk_assessment,
        "name": f"{rid} {entry.title}"[:200],
        "ref_id": rid,
        "description": description,
        "assets": [asset_id],
        "existing_applied_controls": control_ids,
        "treatment": TREATMENTS[entry.status],
        "justification": entry.risk_rationale.strip()[:2000] or None,
    }


def _reason(exc: IntegrationError) -> str:
    return str(exc).removeprefix(f"{SYSTEM}: ")


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
