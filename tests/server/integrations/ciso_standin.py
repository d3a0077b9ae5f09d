"""A stand-in for CISO Assistant's REST API, for the connector's tests over real HTTP.

Checked against CISO Assistant's source at v3.20.8 (backend/core/views.py BaseModelViewSet,
serializers.py BaseModelSerializer, Evidence*Serializer, EvidenceRevisionWriteSerializer,
RiskScenarioWriteSerializer, FolderWriteSerializer; models.py Evidence, EvidenceRevision,
RiskScenario; iam/models.py Folder.create_default_ug_and_ra; tprm/models.py Entity;
core/pagination.py; core/helpers.py handle), as docs/integrations.md records:

* ``/api/assets/``, ``/api/applied-controls/``, ``/api/evidences/``,
  ``/api/evidence-revisions/``, ``/api/risk-assessments/``, ``/api/risk-scenarios/``,
  ``/api/entities/`` (list, create, retrieve, PUT, PATCH, DELETE), ``/api/folders/`` (create,
  retrieve) and ``/api/user-groups/`` (list); trailing slash required.
* Knox ``Authorization: Token <key>``: 401 ``{"detail": ...}`` without it or with a wrong key.
* Role-based access per folder: writing in a folder where the token's user holds no role
  that allows it is 403 ``{"folder": "You do not have permission to add objects in this
  folder"}`` (create) or 403 ``{"detail": ...}`` (change); a folder's roles can only be given
  through its user groups, which exist only when the folder was created with
  ``create_iam_groups: true``.
* DRF LimitOffsetPagination: ``{count, next, previous, results}``, ``next``/``previous`` as
  relative ``path?query``; a limit that is not a positive integer falls back to the page
  size; rows in creation order; django-filter style ``?folder=``, ``?ref_id=``, ``?name=``,
  ``?evidence=``, ``?risk_assessment=``. ``quirks`` make it misbehave as a live or proxied
  instance can (absolute ``next`` links, a next page that repeats, rows shifting between
  pages).
* DRF validation: 400 ``{"field": ["message"]}`` for a missing required field, a wrong type, a
  null where null is not allowed ("This field may not be null."), an unknown choice, a URL
  Django's URLValidator refuses (the real validator is used), a bad date, an unknown related
  id; text is stripped of surrounding whitespace (DRF's CharField); unknown fields are
  ignored. ``folder`` defaults to the root folder when left out.
* Model ``clean()``: names unique (case-insensitively) per folder, or per risk assessment for
  risk scenarios, answered 400 ``{"name": "... is already used in this scope. Please choose
  another value."}``.
* Evidence links live on revisions: ``link`` on POST /evidences/ becomes revision 1; on PATCH or
  PUT it is validated and then ignored (200, old link kept); POST /evidence-revisions/ numbers
  the revision one above the newest whatever ``version`` says and sets the evidence's status to
  ``in_review``; the evidence's ``link`` reads from its newest revision.
* Risk scenarios take their folder from their risk assessment.
* Write answers use the write serializer shape (related objects as ids); reads use the read
  shape (related objects as ``{"id", "str"}``, choices as their display label where CISO
  Assistant's read serializer does so).

``faults`` lets a test make the next matching requests fail with a 5xx or answer late;
``hooks`` run before a request is handled; ``requests`` records every request (method, path).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if not django_settings.configured:
    django_settings.configure()

ROOT_FOLDER_ID = "00000000-0000-4000-8000-000000000001"
#: The user groups Folder.create_default_ug_and_ra makes for a domain folder.
IAM_GROUPS = ("Reader", "Approver", "Analyst", "Domain manager", "Auditee", "Technical tester")

_URL_VALIDATOR = URLValidator()  # DRF's URLField uses Django's, with its default schemes
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ASSET_TYPES = {"PR": "Primary", "SP": "Support"}
CONTROL_CATEGORIES = {
    "policy": "Policy",
    "process": "Process",
    "technical": "Technical",
    "physical": "Physical",
    "procedure": "Procedure",
}
CSF_FUNCTIONS = {
    "govern": "Govern",
    "identify": "Identify",
    "protect": "Protect",
    "detect": "Detect",
    "respond": "Respond",
    "recover": "Recover",
}
CONTROL_STATUSES = ("--", "to_do", "in_progress", "on_hold", "active", "degraded", "deprecated")
EVIDENCE_STATUSES = {
    "draft": "Draft",
    "missing": "Missing",
    "in_review": "In review",
    "approved": "Approved",
    "rejected": "Rejected",
    "expired": "Expired",
}
TREATMENTS = ("open", "mitigate", "accept", "avoid", "transfer", "cancelled")


@dataclass(frozen=True)
class Field:
    """One writable field of a model as its write serializer exposes it."""

    kind: str  # str, text, choice, int_choice, int, url, date, folder, fk, m2m, json
    required: bool = False
    nullable: bool = True
    blank: bool = True
    max_length: int | None = None
    choices: tuple[Any, ...] = ()
    default: Any = None
    target: str = ""  # collection of an fk or m2m relation
    stored: bool = True  # False: validated, then not kept (an evidence's link on update)


@dataclass(frozen=True)
class Model:
    name: str  # as in "No Asset matches the given query."
    fields: dict[str, Field]
    unique: tuple[str, ...]  # fields_to_check: unique together, case-insensitively, in scope
    display: dict[str, dict[str, str]]  # read shape: choice field -> value -> label
    scope: str = "folder"  # the field whose value bounds the uniqueness check


MODELS: dict[str, Model] = {
    "assets": Model(
        "Asset",
        {
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "description": Field("text"),
            "ref_id": Field("str", nullable=False, max_length=100, default=""),
            "type": Field("choice", nullable=False, choices=tuple(ASSET_TYPES), default="SP"),
            "folder": Field("folder", nullable=False),
            "reference_link": Field("url", max_length=2048),
            "observation": Field("text"),
            "security_objectives": Field("json", nullable=False, default={}),
            "parent_assets": Field("m2m", target="assets", default=[]),
            "owner": Field("m2m", target="actors", default=[]),
            "filtering_labels": Field("m2m", target="filtering-labels", default=[]),
        },
        ("ref_id", "name"),
        {"type": ASSET_TYPES},
    ),
    "applied-controls": Model(
        "AppliedControl",
        {
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "description": Field("text"),
            "ref_id": Field("str", max_length=100),
            "folder": Field("folder", nullable=False),
            "category": Field("choice", choices=tuple(CONTROL_CATEGORIES)),
            "csf_function": Field("choice", choices=tuple(CSF_FUNCTIONS)),
            "status": Field("choice", nullable=False, choices=CONTROL_STATUSES, default="--"),
            "priority": Field("int_choice", choices=(1, 2, 3, 4)),
            "link": Field("str", max_length=2048),
            "eta": Field("date"),
            "start_date": Field("date"),
            "expiry_date": Field("date"),
            "effort": Field("choice", choices=("XS", "S", "M", "L", "XL")),
            "assets": Field("m2m", target="assets", default=[]),
            "evidences": Field("m2m", target="evidences", default=[]),
            "owner": Field("m2m", target="actors", default=[]),
        },
        ("ref_id", "name"),
        {"category": CONTROL_CATEGORIES, "csf_function": CSF_FUNCTIONS},
    ),
    "evidences": Model(
        "Evidence",
        {
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "description": Field("text"),
            "folder": Field("folder", nullable=False),
            # serializers.URLField(required=False): no null, no blank.
            "link": Field("url", nullable=False, blank=False, max_length=2048, stored=False),
            "status": Field(
                "choice", nullable=False, choices=tuple(EVIDENCE_STATUSES), default="draft"
            ),
            "expiry_date": Field("date"),
            "applied_controls": Field("m2m", target="applied-controls", default=[]),
            "owner": Field("m2m", target="actors", default=[]),
        },
        ("name",),
        {"status": EVIDENCE_STATUSES},
    ),
    "evidence-revisions": Model(
        "EvidenceRevision",
        {
            "evidence": Field("fk", required=True, nullable=False, target="evidences"),
            "version": Field("int", nullable=False, default=1),
            "link": Field("url", max_length=2048),
            "observation": Field("text"),
            "folder": Field("folder", nullable=False),
        },
        (),
        {},
    ),
    "risk-assessments": Model(
        "RiskAssessment",
        {
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "folder": Field("folder", nullable=False),
        },
        ("name",),
        {},
    ),
    "risk-scenarios": Model(
        "RiskScenario",
        {
            "risk_assessment": Field(
                "fk", required=True, nullable=False, target="risk-assessments"
            ),
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "description": Field("text"),
            "ref_id": Field("str", nullable=False, max_length=100, default=""),
            "assets": Field("m2m", target="assets", default=[]),
            "applied_controls": Field("m2m", target="applied-controls", default=[]),
            "existing_applied_controls": Field("m2m", target="applied-controls", default=[]),
            "treatment": Field("choice", nullable=False, choices=TREATMENTS, default="open"),
            "justification": Field("str", max_length=2000),
            "current_proba": Field("int", nullable=False, default=-1),
            "current_impact": Field("int", nullable=False, default=-1),
        },
        ("name",),
        {},
        scope="risk_assessment",
    ),
    "entities": Model(
        "Entity",
        {
            "name": Field("str", required=True, nullable=False, blank=False, max_length=200),
            "description": Field("text"),
            "ref_id": Field("str", nullable=False, max_length=255, default=""),
            "folder": Field("folder", nullable=False),
            "mission": Field("text", nullable=False, default=""),
            "reference_link": Field("url", max_length=2048),
        },
        ("name",),
        {},
    ),
}

# Both ends of one many-to-many relation: (collection, field) -> (other collection, field).
_MIRRORS = {
    ("applied-controls", "evidences"): ("evidences", "applied_controls"),
    ("evidences", "applied_controls"): ("applied-controls", "evidences"),
}
#: Listing filters each collection accepts (others are ignored, as django-filter does).
_FILTERS = ("folder", "ref_id", "name", "evidence", "risk_assessment")


@dataclass
class Fault:
    """Make the next ``count`` requests matching method and path prefix fail with ``status``
    (a 5xx), or, with ``delay``, answer only after that many seconds."""

    method: str
    path_prefix: str
    status: int = 500
    count: int = 1
    delay: float = 0.0


@dataclass
class StandIn:
    """The stand-in's state: one token and its user's roles, folders, objects, faults."""

    token: str
    folders: dict[str, str] = field(default_factory=lambda: {ROOT_FOLDER_ID: "Global"})
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in MODELS}
    )
    #: Folders whose objects the token's user may add and change; None: every folder (an
    #: administrator's token).
    write_folders: set[str] | None = None
    #: The user groups of each folder (made when it is created with create_iam_groups).
    iam_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Called with (method, path) before a request is handled, e.g. to delete an object
    # between the connector's listing and its PATCH.
    hooks: list[Callable[[str, str], None]] = field(default_factory=list)
    #: "absolute_next": next/previous as absolute URLs; "repeat_next": next always points at
    #: the same page; "shift": every page after the first starts one row early (a row added
    #: meanwhile), so rows show twice; "skip": every page after the first starts one row late
    #: (a row deleted meanwhile), so rows are never listed.
    quirks: set[str] = field(default_factory=set)
    #: (collection, field) pairs a PATCH or PUT answers 200 for and leaves unchanged, as
    #: CISO Assistant does for an evidence's link (used to show that a write is read back).
    ignored_on_update: set[tuple[str, str]] = field(default_factory=set)
    page_size: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_folder(self, name: str, *, create_iam_groups: bool = True) -> str:
        """Create a domain folder as an administrator would."""
        folder_id = str(uuid.uuid4())
        self.folders[folder_id] = name
        self.iam_groups[folder_id] = IAM_GROUPS if create_iam_groups else ()
        return folder_id

    def give_role(self, folder_id: str, group: str) -> None:
        """Put the token's user in one of the folder's user groups; raises LookupError when
        the folder has no such group (it was created without create_iam_groups)."""
        if group not in self.iam_groups.get(folder_id, ()):
            raise LookupError(f"folder {folder_id} has no {group!r} user group")
        if group in ("Analyst", "Domain manager") and self.write_folders is not None:
            self.write_folders.add(folder_id)

    def add_risk_assessment(self, name: str, folder_id: str) -> str:
        pk = str(uuid.uuid4())
        now = _now()
        self.objects["risk-assessments"][pk] = {
            "id": pk,
            "name": name,
            "folder": folder_id,
            "created_at": now,
            "updated_at": now,
            "is_published": False,
        }
        return pk

    def delete(self, collection: str, pk: str) -> None:
        """Delete an object as a CISO Assistant user would, with its relations."""
        with self.lock:
            del self.objects[collection][pk]
            self._forget(pk)

    def edit(self, collection: str, pk: str, **values: Any) -> None:
        """Change fields of an object as a CISO Assistant user would in the UI."""
        with self.lock:
            self.objects[collection][pk].update(values, updated_at=_now())

    def link_of(self, evidence_id: str) -> str | None:
        """The link CISO Assistant shows for an evidence: its newest revision's."""
        revision = self._newest_revision(evidence_id)
        return revision["link"] if revision else None

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD")]

    # HTTP ----------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/folders/", self._folders, methods=["POST"]),
                Route("/api/folders/{pk}/", self._folder, methods=["GET"]),
                Route("/api/user-groups/", self._user_groups, methods=["GET"]),
                Route("/api/{collection}/", self._collection, methods=["GET", "POST"]),
                Route(
                    "/api/{collection}/{pk}/",
                    self._detail,
                    methods=["GET", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )

    async def _gate(self, request: Request) -> Response | None:
        """Log the request, inject a fault, check the Knox token."""
        delay = 0.0
        with self.lock:
            self.requests.append((request.method, request.url.path))
            for fault in self.faults:
                if (
                    fault.count > 0
                    and fault.method == request.method
                    and request.url.path.startswith(fault.path_prefix)
                ):
                    fault.count -= 1
                    if not fault.delay:
                        return JSONResponse({"detail": "Internal Server Error"}, fault.status)
                    delay = fault.delay
                    break
        if delay:
            await asyncio.sleep(delay)
        for hook in self.hooks:
            hook(request.method, request.url.path)
        header = request.headers.get("authorization", "")
        parts = header.split()
        if not parts or parts[0].lower() != "token":
            return _unauthorised("Authentication credentials were not provided.")
        if len(parts) == 1:
            return _unauthorised("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            return _unauthorised("Invalid token header. Token string should not contain spaces.")
        if parts[1] != self.token:
            return _unauthorised("Invalid token.")
        return None

    def _may_write(self, folder_id: str) -> bool:
        return self.write_folders is None or folder_id in self.write_folders

    async def _folders(self, request: Request) -> Response:
        if (denied := await self._gate(request)) is not None:
            return denied
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict) or not str(body.get("name") or "").strip():
            return JSONResponse({"name": ["This field is required."]}, 400)
        if self.write_folders is not None:
            return JSONResponse(
                {"folder": "You do not have permission to add objects in this folder"}, 403
            )
        name = str(body["name"]).strip()
        if "/" in name:
            return JSONResponse({"name": ["The name cannot contain '/' for a Folder."]}, 400)
        folder_id = self.add_folder(name, create_iam_groups=body.get("create_iam_groups") is True)
        return JSONResponse(
            {
                "id": folder_id,
                "name": name,
                "parent_folder": body.get("parent_folder") or ROOT_FOLDER_ID,
                "create_iam_groups": bool(self.iam_groups[folder_id]),
            },
            201,
        )

    async def _folder(self, request: Request) -> Response:
        if (denied := await self._gate(request)) is not None:
            return denied
        pk = request.path_params["pk"]
        if pk not in self.folders:
            return JSONResponse({"detail": "No Folder matches the given query."}, 404)
        return JSONResponse(
            {
                "id": pk,
                "name": self.folders[pk],
                "content_type": "DOMAIN",
                "create_iam_groups": bool(self.iam_groups.get(pk)),
            }
        )

    async def _user_groups(self, request: Request) -> Response:
        if (denied := await self._gate(request)) is not None:
            return denied
        folder = request.query_params.get("folder")
        rows = [
            {"id": f"{pk}:{name}", "name": name, "folder": {"id": pk, "str": self.folders[pk]}}
            for pk, groups in self.iam_groups.items()
            for name in groups
            if folder is None or folder == pk
        ]
        return JSONResponse({"count": len(rows), "next": None, "previous": None, "results": rows})

    async def _collection(self, request: Request) -> Response:
        if (denied := await self._gate(request)) is not None:
            return denied
        collection = request.path_params["collection"]
        if collection not in MODELS:
            return JSONResponse({"detail": "Not found."}, 404)
        if request.method == "GET":
            return self._list(request, collection)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        with self.lock:
            record, errors = self._validate(collection, body, current=None, partial=False)
            if errors:
                return JSONResponse(errors, 400)
            self._derive(collection, record)
            if not self._may_write(record["folder"]):
                return JSONResponse(
                    {"folder": "You do not have permission to add objects in this folder"}, 403
                )
            clash = self._clash(collection, record)
            if clash:
                return JSONResponse(clash, 400)
            record["id"] = str(uuid.uuid4())
            now = _now()
            record.update(created_at=now, updated_at=now, is_published=False)
            link = record.pop("link", None) if collection == "evidences" else None
            self.objects[collection][record["id"]] = record
            self._mirror(collection, record)
            if collection == "evidences":
                self._add_revision(record["id"], link, version=1)
            elif collection == "evidence-revisions":
                evidence = self.objects["evidences"][record["evidence"]]
                newest = self._newest_revision(record["evidence"], exclude=record["id"])
                record["version"] = (newest["version"] if newest else 0) + 1
                evidence["status"] = "in_review"
            return JSONResponse(self._write_shape(collection, record), 201)

    async def _detail(self, request: Request) -> Response:
        if (denied := await self._gate(request)) is not None:
            return denied
        collection, pk = request.path_params["collection"], request.path_params["pk"]
        if collection not in MODELS:
            return JSONResponse({"detail": "Not found."}, 404)
        with self.lock:
            current = self.objects[collection].get(pk)
            if current is None:
                return JSONResponse(
                    {"detail": f"No {MODELS[collection].name} matches the given query."}, 404
                )
            if request.method == "GET":
                return JSONResponse(self._read_shape(collection, current))
            if not self._may_write(current["folder"]):
                return JSONResponse(
                    {"detail": "You do not have permission to perform this action."}, 403
                )
            if request.method == "DELETE":
                del self.objects[collection][pk]
                self._forget(pk)
                return Response(status_code=204)
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        with self.lock:
            partial = request.method == "PATCH"
            record, errors = self._validate(collection, body, current=current, partial=partial)
            if errors:
                return JSONResponse(errors, 400)
            for ignored_collection, name in self.ignored_on_update:
                if ignored_collection == collection and name in current:
                    record[name] = current[name]
            self._derive(collection, record)
            clash = self._clash(collection, record)
            if clash:
                return JSONResponse(clash, 400)
            record["updated_at"] = _now()
            self.objects[collection][pk] = record
            self._mirror(collection, record)
            return JSONResponse(self._write_shape(collection, record))

    def _list(self, request: Request, collection: str) -> Response:
        query = request.query_params
        limit = _positive_int(query.get("limit"), strict=True) or self.page_size
        offset = _positive_int(query.get("offset"), strict=False) or 0
        with self.lock:
            # Creation order (BaseModelViewSet orders by created_at); dicts keep it.
            rows = list(self.objects[collection].values())
            for name in _FILTERS:
                if name in query and name in MODELS[collection].fields:
                    rows = [row for row in rows if str(row.get(name) or "") == query[name]]
            if collection == "evidence-revisions":
                rows.sort(key=lambda row: -int(row["version"]))
            start = offset
            if offset and "shift" in self.quirks:
                start = offset - 1
            if offset and "skip" in self.quirks:
                start = offset + 1
            page = [self._read_shape(collection, row) for row in rows[start : start + limit]]

        def link(new_offset: int | None) -> str:
            params = {k: v for k, v in query.items() if k not in ("limit", "offset")}
            params["limit"] = str(limit)
            if new_offset:
                params["offset"] = str(new_offset)
            path = f"{request.url.path}?{urlencode(params)}"
            if "absolute_next" in self.quirks:
                return f"{request.url.scheme}://{request.url.netloc}{path}"
            return path

        next_offset = offset if "repeat_next" in self.quirks else offset + limit
        return JSONResponse(
            {
                "count": len(rows),
                "next": link(next_offset) if offset + limit < len(rows) else None,
                "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "results": page,
            }
        )

    # Validation, as a DRF ModelSerializer and the model's clean() would ---------------------

    def _validate(
        self,
        collection: str,
        body: Any,
        *,
        current: dict[str, Any] | None,
        partial: bool,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        model = MODELS[collection]
        if not isinstance(body, dict):
            return {}, {
                "non_field_errors": [
                    f"Invalid data. Expected a dictionary, but got {type(body).__name__}."
                ]
            }
        errors: dict[str, Any] = {}
        record = dict(current) if current else {}
        for name, spec in model.fields.items():
            if name not in body:
                if current is None:
                    if spec.required:
                        errors[name] = ["This field is required."]
                    elif spec.kind == "folder":
                        record[name] = ROOT_FOLDER_ID
                    elif spec.stored:
                        record[name] = _copy(spec.default)
                elif not partial and spec.required:
                    errors[name] = ["This field is required."]
                continue
            value, problem = self._check(spec, body[name])
            if problem:
                errors[name] = [problem]
            elif spec.stored or current is None:
                # An evidence's link on create goes to its first revision (see
                # _collection); on update it is validated and dropped, as
                # EvidenceWriteSerializer.update does.
                record[name] = value
        return record, errors

    def _check(self, spec: Field, value: Any) -> tuple[Any, str | None]:
        if value is None:
            if spec.nullable and spec.kind != "m2m":
                return None, None
            return None, "This field may not be null."
        if spec.kind in ("str", "text", "url"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                return None, "Not a valid string."
            value = str(value).strip()  # DRF's CharField trims whitespace, text included
            if not value:
                if not spec.blank:
                    return None, "This field may not be blank."
                return value, None
            if spec.max_length and len(value) > spec.max_length:
                return None, f"Ensure this field has no more than {spec.max_length} characters."
            if spec.kind == "url":
                try:
                    _URL_VALIDATOR(value)
                except DjangoValidationError:
                    return None, "Enter a valid URL."
            return value, None
        if spec.kind == "choice":
            if value not in spec.choices:
                return None, f'"{value}" is not a valid choice.'
            return value, None
        if spec.kind in ("int_choice", "int"):
            if isinstance(value, bool) or not isinstance(value, int):
                return None, "A valid integer is required."
            if spec.kind == "int_choice" and value not in spec.choices:
                return None, f'"{value}" is not a valid choice.'
            return value, None
        if spec.kind == "date":
            if not isinstance(value, str) or not _DATE.match(value):
                return None, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return None, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
            return value, None
        if spec.kind in ("folder", "fk"):
            if not isinstance(value, str):
                return None, f"Incorrect type. Expected pk value, received {type(value).__name__}."
            known = self.folders if spec.kind == "folder" else self.objects[spec.target]
            if value not in known:
                return None, f'Invalid pk "{value}" - object does not exist.'
            return value, None
        if spec.kind == "m2m":
            if not isinstance(value, list):
                return None, f'Expected a list of items but got type "{type(value).__name__}".'
            targets = self.objects.get(spec.target, {})
            for item in value:
                if not isinstance(item, str) or item not in targets:
                    return None, f'Invalid pk "{item}" - object does not exist.'
            return list(dict.fromkeys(value)), None
        if spec.kind == "json":
            return value, None
        raise AssertionError(spec.kind)

    def _derive(self, collection: str, record: dict[str, Any]) -> None:
        """Fields the models set on save."""
        if collection == "risk-scenarios":
            record["folder"] = self.objects["risk-assessments"][record["risk_assessment"]]["folder"]
        elif collection == "evidence-revisions":
            record["folder"] = self.objects["evidences"][record["evidence"]]["folder"]

    def _clash(self, collection: str, record: dict[str, Any]) -> dict[str, str]:
        """The model's clean(): the fields_to_check together (blank ones left out),
        case-insensitively, within the scope; each clashing field is named."""
        model = MODELS[collection]
        others = [
            row
            for row in self.objects[collection].values()
            if row["id"] != record.get("id") and row.get(model.scope) == record.get(model.scope)
        ]

        def clashes(names: tuple[str, ...]) -> bool:
            checked = [name for name in names if record.get(name) not in (None, "")]
            if not checked:
                return False
            return any(
                all(
                    str(row.get(name) or "").lower() == str(record[name]).lower()
                    for name in checked
                )
                for row in others
            )

        if not clashes(model.unique):
            return {}
        return {
            name: f"{record.get(name)} is already used in this scope. Please choose another value."
            for name in model.unique
            if clashes((name,))
        }

    def _add_revision(self, evidence_id: str, link: str | None, *, version: int) -> None:
        pk = str(uuid.uuid4())
        now = _now()
        self.objects["evidence-revisions"][pk] = {
            "id": pk,
            "evidence": evidence_id,
            "version": version,
            "link": link,
            "observation": None,
            "folder": self.objects["evidences"][evidence_id]["folder"],
            "created_at": now,
            "updated_at": now,
            "is_published": False,
        }

    def _newest_revision(
        self, evidence_id: str, *, exclude: str | None = None
    ) -> dict[str, Any] | None:
        revisions = [
            row
            for row in self.objects["evidence-revisions"].values()
            if row["evidence"] == evidence_id and row["id"] != exclude
        ]
        return max(revisions, key=lambda row: int(row["version"]), default=None)

    def _mirror(self, collection: str, record: dict[str, Any]) -> None:
        """Keep both ends of the control <-> evidence relation in step."""
        for (source, name), (other, other_name) in _MIRRORS.items():
            if source != collection:
                continue
            for row in self.objects[other].values():
                linked = record["id"] in row[other_name]
                wanted = row["id"] in record[name]
                if wanted and not linked:
                    row[other_name] = [*row[other_name], record["id"]]
                elif linked and not wanted:
                    row[other_name] = [pk for pk in row[other_name] if pk != record["id"]]

    def _forget(self, pk: str) -> None:
        for collection, rows in self.objects.items():
            for row in rows.values():
                for name, spec in MODELS[collection].fields.items():
                    if spec.kind == "m2m" and pk in row.get(name, []):
                        row[name] = [item for item in row[name] if item != pk]
        for row_id, row in list(self.objects["evidence-revisions"].items()):
            if row["evidence"] == pk:
                del self.objects["evidence-revisions"][row_id]

    # Representations -----------------------------------------------------------------------

    def _write_shape(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        model = MODELS[collection]
        shape = {
            "id": record["id"],
            **{name: record.get(name) for name, spec in model.fields.items() if spec.stored},
        }
        if collection == "evidences":
            shape["link"] = self.link_of(record["id"])
            shape["attachment"] = None
        shape.update(
            created_at=record["created_at"],
            updated_at=record["updated_at"],
            is_published=record["is_published"],
        )
        return shape

    def _read_shape(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        model = MODELS[collection]
        shape = self._write_shape(collection, record)
        shape["folder"] = {"id": record["folder"], "str": self.folders[record["folder"]]}
        for name, spec in model.fields.items():
            if spec.kind == "m2m":
                targets = self.objects.get(spec.target, {})
                shape[name] = [
                    {"id": pk, "str": targets[pk]["name"]} for pk in record[name] if pk in targets
                ]
            elif spec.kind == "fk":
                target = self.objects[spec.target].get(record[name], {})
                shape[name] = {"id": record[name], "str": str(target.get("name", record[name]))}
        for name, labels in model.display.items():
            value = record.get(name)
            # Django's get_FOO_display: the label, the value itself when unknown, None for None.
            shape[name] = labels.get(value, value) if value is not None else None
        return shape


def _positive_int(text: str | None, *, strict: bool) -> int | None:
    """DRF's _positive_int: a non-negative integer (positive when strict), else None."""
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    if value is None or value < 0 or (strict and value == 0):
        return None
    return value


def _unauthorised(detail: str) -> Response:
    return JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "Token"})


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return JSONResponse({"detail": f'Unsupported media type "{content_type}" in request.'}, 415)
    try:
        return await request.json()
    except ValueError as exc:
        return JSONResponse({"detail": f"JSON parse error - {exc}"}, 400)


def _copy(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return type(value)(value)
    return value


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def serve(standin: StandIn) -> Iterator[str]:
    """Run the stand-in with uvicorn on a free loopback port; yield its API root URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        standin.app(),
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        access_log=False,
    )
    server = uvicorn.Server(config)
    run: Callable[[], None] = lambda: server.run(sockets=[sock])  # noqa: E731
    thread = threading.Thread(target=run, name="ciso-standin", daemon=True)
    thread.start()
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while not server.started:
        if dt.datetime.now() > deadline or not thread.is_alive():
            raise RuntimeError("the CISO Assistant stand-in did not start")
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
