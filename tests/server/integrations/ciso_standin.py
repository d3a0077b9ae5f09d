"""A small stand-in for CISO Assistant's REST API, for the connector's tests over real HTTP.

Written from CISO Assistant's documented contract (backend/core/urls.py, models.py,
serializers.py, base_models.py, pagination.py, settings.py REST_FRAMEWORK/REST_KNOX; see
docs/integrations.md for the versions it follows), not from its code:

* ``/api/assets/``, ``/api/applied-controls/``, ``/api/evidences/`` (list, create, retrieve,
  PUT, PATCH, DELETE) and ``/api/folders/<id>/`` (retrieve); trailing slash required.
* Knox ``Authorization: Token <key>``: 401 ``{"detail": ...}`` without it or with a wrong key.
* DRF LimitOffsetPagination: ``{count, next, previous, results}``, ``next``/``previous`` as
  relative ``path?query``; django-filter style ``?folder=``, ``?ref_id=``, ``?name=``.
* DRF validation: 400 ``{"field": ["message"]}`` for a missing required field, a wrong type,
  an unknown choice, a bad URL or date, an unknown related id; unknown fields are ignored.
  ``folder`` defaults to the root folder when left out, as in CISO Assistant.
* Model ``clean()``: (ref_id, name) unique per folder for assets and applied controls, name
  unique per folder for evidence, answered 400 ``{"name": "... is already used in this
  scope. Please choose another value."}``.
* Write answers use the write serializer shape (related objects as ids); reads use the read
  shape (related objects as ``{"id", "str"}``, choices as their display label where CISO
  Assistant's read serializer does so).

``faults`` lets a test make the next matching requests fail with a 5xx; ``hooks`` run before a
request is handled; ``requests`` records every request (method, path) the stand-in saw.
"""

from __future__ import annotations

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
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT_FOLDER_ID = "00000000-0000-4000-8000-000000000001"

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
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
EVIDENCE_STATUSES = ("draft", "missing", "in_review", "approved", "rejected", "expired")


@dataclass(frozen=True)
class Field:
    """One writable field of a model as its write serializer exposes it."""

    kind: str  # str, text, choice, int_choice, url, date, folder, m2m, json
    required: bool = False
    nullable: bool = True
    blank: bool = True
    max_length: int | None = None
    choices: tuple[Any, ...] = ()
    default: Any = None
    target: str = ""  # collection of an m2m relation


@dataclass(frozen=True)
class Model:
    name: str  # as in "No Asset matches the given query."
    fields: dict[str, Field]
    unique_together: tuple[str, ...]
    display: dict[str, dict[str, str]]  # read shape: choice field -> value -> label


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
            "link": Field("url", max_length=2048),
            "status": Field("choice", nullable=False, choices=EVIDENCE_STATUSES, default="draft"),
            "expiry_date": Field("date"),
            "applied_controls": Field("m2m", target="applied-controls", default=[]),
            "owner": Field("m2m", target="actors", default=[]),
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


@dataclass
class Fault:
    """Answer the next ``count`` requests matching method and path prefix with ``status``."""

    method: str
    path_prefix: str
    status: int = 500
    count: int = 1


@dataclass
class StandIn:
    """The stand-in's state: one token, folders, objects, injected faults, request log."""

    token: str
    folders: dict[str, str] = field(default_factory=lambda: {ROOT_FOLDER_ID: "Global"})
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in MODELS}
    )
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Called with (method, path) before a request is handled, e.g. to delete an object
    # between the connector's listing and its PATCH.
    hooks: list[Callable[[str, str], None]] = field(default_factory=list)
    page_size: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_folder(self, name: str) -> str:
        folder_id = str(uuid.uuid4())
        self.folders[folder_id] = name
        return folder_id

    def delete(self, collection: str, pk: str) -> None:
        """Delete an object as a CISO Assistant user would, with its relations."""
        with self.lock:
            del self.objects[collection][pk]
            self._forget(pk)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD")]

    # HTTP ----------------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/folders/{pk}/", self._folder, methods=["GET"]),
                Route("/api/{collection}/", self._collection, methods=["GET", "POST"]),
                Route(
                    "/api/{collection}/{pk}/",
                    self._detail,
                    methods=["GET", "PUT", "PATCH", "DELETE"],
                ),
            ]
        )

    def _gate(self, request: Request) -> Response | None:
        """Log the request, inject a fault, check the Knox token."""
        with self.lock:
            self.requests.append((request.method, request.url.path))
            for fault in self.faults:
                if (
                    fault.count > 0
                    and fault.method == request.method
                    and request.url.path.startswith(fault.path_prefix)
                ):
                    fault.count -= 1
                    return JSONResponse({"detail": "Internal Server Error"}, fault.status)
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

    async def _folder(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
            return denied
        pk = request.path_params["pk"]
        if pk not in self.folders:
            return JSONResponse({"detail": "No Folder matches the given query."}, 404)
        return JSONResponse({"id": pk, "name": self.folders[pk], "content_type": "DOMAIN"})

    async def _collection(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
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
            record["id"] = str(uuid.uuid4())
            now = _now()
            record.update(created_at=now, updated_at=now, is_published=False)
            self.objects[collection][record["id"]] = record
            self._mirror(collection, record)
            return JSONResponse(self._write_shape(collection, record), 201)

    async def _detail(self, request: Request) -> Response:
        if (denied := self._gate(request)) is not None:
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
            record["updated_at"] = _now()
            self.objects[collection][pk] = record
            self._mirror(collection, record)
            return JSONResponse(self._write_shape(collection, record))

    def _list(self, request: Request, collection: str) -> Response:
        query = request.query_params
        try:
            limit = int(query.get("limit", self.page_size))
            offset = int(query.get("offset", 0))
        except ValueError:
            limit, offset = self.page_size, 0
        limit, offset = max(1, min(limit, self.page_size)), max(0, offset)
        with self.lock:
            rows = sorted(
                self.objects[collection].values(), key=lambda row: (row["name"], row["id"])
            )
            for name in ("folder", "ref_id", "name"):
                if name in query:
                    rows = [row for row in rows if str(row.get(name) or "") == query[name]]
            page = [self._read_shape(collection, row) for row in rows[offset : offset + limit]]

        def link(new_offset: int | None) -> str:
            params = {k: v for k, v in query.items() if k not in ("limit", "offset")}
            params["limit"] = str(limit)
            if new_offset:
                params["offset"] = str(new_offset)
            return f"{request.url.path}?{urlencode(params)}"

        return JSONResponse(
            {
                "count": len(rows),
                "next": link(offset + limit) if offset + limit < len(rows) else None,
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
                    else:
                        record[name] = _copy(spec.default)
                elif not partial and spec.required:
                    errors[name] = ["This field is required."]
                continue
            value, problem = self._check(spec, body[name])
            if problem:
                errors[name] = [problem]
            else:
                record[name] = value
        if errors:
            return record, errors
        clash = self._clash(collection, record)
        if clash:
            return record, clash
        return record, {}

    def _check(self, spec: Field, value: Any) -> tuple[Any, str | None]:
        if value is None:
            return (
                (None, None)
                if spec.nullable and spec.kind != "m2m"
                else (
                    None,
                    "This field may not be null.",
                )
            )
        if spec.kind in ("str", "text", "url"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                return None, "Not a valid string."
            value = str(value).strip() if spec.kind != "text" else str(value)
            if not value:
                if not spec.blank:
                    return None, "This field may not be blank."
                return value, None
            if spec.max_length and len(value) > spec.max_length:
                return None, f"Ensure this field has no more than {spec.max_length} characters."
            if spec.kind == "url" and not _URL.match(value):
                return None, "Enter a valid URL."
            return value, None
        if spec.kind == "choice":
            if value not in spec.choices:
                return None, f'"{value}" is not a valid choice.'
            return value, None
        if spec.kind == "int_choice":
            if isinstance(value, bool) or value not in spec.choices:
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
        if spec.kind == "folder":
            if not isinstance(value, str):
                return None, f"Incorrect type. Expected pk value, received {type(value).__name__}."
            if value not in self.folders:
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

    def _clash(self, collection: str, record: dict[str, Any]) -> dict[str, str]:
        """The model's clean(): the unique-together fields, case-insensitively, per folder."""
        fields = MODELS[collection].unique_together

        def key(row: dict[str, Any], names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(str(row.get(name) or "").lower() for name in names)

        others = [
            row
            for row in self.objects[collection].values()
            if row["id"] != record.get("id") and row["folder"] == record["folder"]
        ]
        if not any(key(row, fields) == key(record, fields) for row in others):
            return {}
        return {
            name: f"{record.get(name)} is already used in this scope. Please choose another value."
            for name in fields
            if any(key(row, (name,)) == key(record, (name,)) for row in others)
        }

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
                    if spec.kind == "m2m" and pk in row[name]:
                        row[name] = [item for item in row[name] if item != pk]

    # Representations -----------------------------------------------------------------------

    def _write_shape(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        shape = {"id": record["id"], **{name: record[name] for name in MODELS[collection].fields}}
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
        for name, labels in model.display.items():
            value = record.get(name)
            shape[name] = labels.get(value, "--") if value is not None else "--"
        return shape


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
