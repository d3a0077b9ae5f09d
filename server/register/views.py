"""Pages of the governed side: dashboard, triage queue and actions, register, reviews,
suppressions, audit trail (with export) and user management. Handlers stay thin: parse the
form, check CSRF, call server.register.service, redirect (post/redirect/get)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from collector.store import audit as audit_store
from collector.store import inventory, register, triage
from collector.store import users as users_store
from collector.store.base import utcnow
from server.deps import Admin, DbSession, Reviewer, RowId, State, Viewer
from server.register import service, states
from server.register.dashboard import build_dashboard
from server.register.errors import GuardFailed
from server.register.reviews import review_rows, supplier_rows
from server.register.schemas import (
    DATA_CLASSES,
    DPIA_OUTCOMES,
    EU_AI_ACT_CLASSES,
    HUMAN_OVERSIGHT,
    RISK_LEVELS,
    SCOPE_STATUSES,
    SUPPLIER_REVIEWS,
    EntryInput,
    parse_entry_input,
)
from server.ui import _page, check_csrf

router = APIRouter(include_in_schema=False)

Csrf = Annotated[str, Form(max_length=64)]
Reason = Annotated[str, Form(max_length=4000)]


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _parse_date(value: str | None, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError as exc:
        raise GuardFailed(field, "use a date like 2026-11-27") from exc


# Dashboard -----------------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    figures = build_dashboard(
        session, stale_after=dt.timedelta(minutes=state.settings.stale_after_minutes)
    )
    return _page(state, request, "dashboard.html", who, d=figures)


# Triage --------------------------------------------------------------------------------------


@router.get("/triage", response_class=HTMLResponse)
def triage_queue(
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    status: Annotated[str, Query(max_length=32)] = "open",
    category: Annotated[str, Query(max_length=64)] = "",
    evidence: Annotated[str, Query(max_length=32)] = "",
    min_hosts: Annotated[str, Query(max_length=7, pattern=r"^\d*$")] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    mine: Annotated[bool, Query()] = False,
) -> Response:
    if status == "open":
        wanted: list[str] | None = [states.NEW, states.TRIAGING, states.NEEDS_INFO]
    elif status == "all":
        wanted = None
    elif status in states.TRIAGE_STATES:
        wanted = [status]
    else:
        raise GuardFailed("status", f"unknown triage state {status!r}")
    rows = triage.list_triage_queue(
        session,
        states=wanted,
        category=category or None,
        evidence_kind=evidence or None,
        min_hosts=int(min_hosts) if min_hosts else None,
        first_seen_after=_parse_date(since, "since"),
        search=q or None,
        assignee_id=who.user.id if mine else None,
    )
    return _page(
        state,
        request,
        "triage.html",
        who,
        rows=rows,
        categories=inventory.list_categories(session),
        evidence_kinds=sorted(
            {"process", "browser_extension", "ide_extension", "app", "package", "dns", "sni"}
            | {kind for row in rows for kind in row.evidence_kinds}
        ),
        triage_states=states.TRIAGE_STATES,
        bulk_actions=service.BULK_ACTIONS,
        f={
            "status": status,
            "category": category,
            "evidence": evidence,
            "min_hosts": min_hosts,
            "since": since,
            "q": q,
            "mine": mine,
        },
    )


@router.post("/triage/bulk")
async def triage_bulk(request: Request, session: DbSession, who: Reviewer) -> Response:
    form = await request.form(max_files=0, max_fields=600)
    check_csrf(who, str(form.get("csrf", "")))
    try:
        item_ids = [int(str(value)) for value in form.getlist("item")]
    except ValueError as exc:
        raise GuardFailed("item", "item ids are numbers") from exc
    service.bulk_triage(
        session,
        actor=who.user.username,
        item_ids=item_ids,
        action=str(form.get("action", ""))[:32],
        reason=str(form.get("reason", ""))[:4000],
    )
    return _see("/triage")


@router.post("/inventory/{item_id}/state")
def item_state(
    item_id: RowId,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    target: Annotated[str, Form(max_length=32)],
    reason: Reason = "",
) -> Response:
    check_csrf(who, csrf)
    service.transition_item(
        session, actor=who.user.username, item_id=item_id, target=target, reason=reason
    )
    return _see(f"/inventory/{item_id}")


@router.post("/inventory/{item_id}/assign")
def item_assign(
    item_id: RowId,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.assign_item(
        session, actor=who.user.username, item_id=item_id, assignee=assignee or None
    )
    return _see(f"/inventory/{item_id}")


@router.post("/inventory/{item_id}/comments")
def item_comment(
    item_id: RowId,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    check_csrf(who, csrf)
    service.comment_item(session, actor=who.user.username, item_id=item_id, body=body)
    return _see(f"/inventory/{item_id}#comments")


@router.post("/inventory/{item_id}/merge")
def item_merge(
    item_id: RowId,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    into: Annotated[int, Form(ge=1)],
) -> Response:
    check_csrf(who, csrf)
    service.merge_item(session, actor=who.user.username, item_id=item_id, into_item_id=into)
    return _see(f"/inventory/{item_id}")


@router.post("/inventory/{item_id}/promote")
def item_promote(
    item_id: RowId,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    register_id: Annotated[str, Form(max_length=16)] = "",
    title: Annotated[str, Form(max_length=120)] = "",
    business_unit: Annotated[str, Form(max_length=120)] = "",
    purpose: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(who, csrf)
    entry = service.promote_item(
        session,
        actor=who.user.username,
        item_id=item_id,
        existing_register_id=register_id or None,
        title=title,
        business_unit=business_unit,
        purpose=purpose,
    )
    return _see(f"/register/{entry.register_id}")


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rules = triage.list_suppression_rules(session)
    return _page(state, request, "suppressions.html", who, rules=rules)


# Register ------------------------------------------------------------------------------------


def _entry_form_data(form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: str(form.get(name, ""))
        for name in EntryInput.model_fields
        if name not in ("data_classes", "personal_data", "evidence_links", "review_cadence_months")
    }
    data["data_classes"] = [str(value) for value in form.getlist("data_classes")]
    data["personal_data"] = form.get("personal_data") == "on"
    data["evidence_links"] = str(form.get("evidence_links", "")).splitlines()
    data["review_cadence_months"] = str(form.get("review_cadence_months", "12")) or "12"
    return data


def _version(form: FormData) -> int:
    try:
        return int(str(form.get("version", "")))
    except ValueError as exc:
        raise GuardFailed("version", "the form lacks the entry's version; reload it") from exc


@router.get("/register", response_class=HTMLResponse)
def register_list(
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    status: Annotated[str, Query(max_length=16)] = "",
    risk: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if status and status not in states.ENTRY_STATES:
        raise GuardFailed("status", f"unknown register status {status!r}")
    entries = register.list_register_entries(
        session, statuses=[status] if status else None, risk_level=risk or None, search=q or None
    )
    return _page(
        state,
        request,
        "register.html",
        who,
        entries=entries,
        entry_states=states.ENTRY_STATES,
        risk_levels=RISK_LEVELS,
        f={"status": status, "risk": risk, "q": q},
        today=utcnow().date(),
    )


@router.post("/register")
async def register_create(request: Request, session: DbSession, who: Reviewer) -> Response:
    form = await request.form(max_files=0, max_fields=100)
    check_csrf(who, str(form.get("csrf", "")))
    fields = parse_entry_input(_entry_form_data(form))
    entry = service.create_entry(session, actor=who.user.username, fields=fields)
    return _see(f"/register/{entry.register_id}")


@router.get("/register/{register_id}", response_class=HTMLResponse)
def register_entry(
    register_id: str, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    entry = register.get_register_entry(session, register_id=register_id[:16])
    return _page(
        state,
        request,
        "entry.html",
        who,
        entry=entry,
        items=triage.list_items_of_entry(session, entry_id=entry.id),
        history=audit_store.list_audit_events(
            session, object_type="entry", object_id=entry.register_id, limit=100
        ),
        blockers={
            decision: service.decision_blockers(entry, decision, decided_by=who.user.username)
            for decision in (states.APPROVED, states.RESTRICTED)
        },
        decisions=[d for d in states.DECISIONS if d in states.entry_targets(entry.status)],
        moves=[t for t in states.entry_targets(entry.status) if t not in states.DECISIONS],
        o={
            "data_classes": DATA_CLASSES,
            "risk_levels": RISK_LEVELS,
            "dpia": DPIA_OUTCOMES,
            "supplier_reviews": SUPPLIER_REVIEWS,
            "eu_ai_act": EU_AI_ACT_CLASSES,
            "oversight": HUMAN_OVERSIGHT,
            "scope": SCOPE_STATUSES,
        },
    )


@router.post("/register/{register_id}")
async def register_update(
    register_id: str, request: Request, session: DbSession, who: Reviewer
) -> Response:
    form = await request.form(max_files=0, max_fields=100)
    check_csrf(who, str(form.get("csrf", "")))
    service.update_entry(
        session,
        actor=who.user.username,
        register_id=register_id[:16],
        expected_version=_version(form),
        fields=parse_entry_input(_entry_form_data(form)),
    )
    return _see(f"/register/{register_id[:16]}")


@router.post("/register/{register_id}/decision")
def register_decision(
    register_id: str,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    decision: Annotated[str, Form(max_length=16)],
    rationale: Reason = "",
    conditions: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.decide_entry(
        session,
        actor=who.user.username,
        register_id=register_id[:16],
        expected_version=version,
        decision=decision,
        rationale=rationale,
        conditions=conditions,
    )
    return _see(f"/register/{register_id[:16]}")


@router.post("/register/{register_id}/status")
def register_status(
    register_id: str,
    session: DbSession,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    target: Annotated[str, Form(max_length=16)],
    reason: Reason = "",
) -> Response:
    check_csrf(who, csrf)
    service.move_entry(
        session,
        actor=who.user.username,
        register_id=register_id[:16],
        expected_version=version,
        target=target,
        reason=reason,
    )
    return _see(f"/register/{register_id[:16]}")


# Reviews -------------------------------------------------------------------------------------


@router.get("/reviews", response_class=HTMLResponse)
def reviews(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    today = utcnow().date()
    return _page(
        state,
        request,
        "reviews.html",
        who,
        rows=review_rows(session, today=today),
        suppliers=supplier_rows(session),
        today=today,
    )


# Audit trail ---------------------------------------------------------------------------------

AUDIT_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    actor: Annotated[str, Query(max_length=64)] = "",
    object_type: Annotated[str, Query(max_length=32)] = "",
    object_id: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    until_at = _parse_date(until, "until")
    events = audit_store.list_audit_events(
        session,
        actor=actor or None,
        object_type=object_type or None,
        object_id=object_id or None,
        since=_parse_date(since, "since"),
        until=until_at + dt.timedelta(days=1) if until_at else None,
        limit=101,
        offset=(page - 1) * 100,
    )
    return _page(
        state,
        request,
        "audit.html",
        who,
        events=events[:100],
        more=len(events) > 100,
        page=page,
        f={
            "actor": actor,
            "object_type": object_type,
            "object_id": object_id,
            "since": since,
            "until": until,
        },
    )


def _event_row(event: Any) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


@router.get("/audit/export")
def audit_export(
    session: DbSession,
    who: Viewer,
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
) -> Response:
    rows = [_event_row(event) for event in audit_store.iter_audit_events(session)]
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")

    def jsonl() -> Iterator[str]:
        for row in rows:
            yield audit_store.canonical_json(row) + "\n"

    def as_csv() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(AUDIT_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    json.dumps(row[c], sort_keys=True) if c in ("before", "after") else row[c]
                    for c in AUDIT_COLUMNS
                ]
            )
        yield buffer.getvalue()

    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return StreamingResponse(
        jsonl() if format == "jsonl" else as_csv(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="shadowmap-audit-{stamp}.{format}"'},
    )


# Users ---------------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, session: DbSession, state: State, who: Admin) -> Response:
    return _page(
        state,
        request,
        "users.html",
        who,
        users=users_store.list_users(session),
        roles=service.ROLES,
        new_password=None,
    )


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request,
    session: DbSession,
    state: State,
    who: Admin,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)],
) -> Response:
    check_csrf(who, csrf)
    user, password = service.create_user(
        session, actor=who.user.username, username=username, role=role, password=None
    )
    # The password is shown once, in this response, and never stored in clear.
    return _page(
        state,
        request,
        "users.html",
        who,
        users=users_store.list_users(session),
        roles=service.ROLES,
        new_password=(user.username, password),
    )


@router.post("/admin/users/{user_id}")
def users_update(
    user_id: RowId,
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    role: Annotated[str, Form(max_length=16)] = "",
    disabled: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    check_csrf(who, csrf)
    service.update_user(
        session,
        actor=who.user.username,
        user_id=user_id,
        role=role or None,
        disabled={"true": True, "false": False}.get(disabled),
    )
    return _see("/admin/users")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def users_reset_password(
    user_id: RowId, request: Request, session: DbSession, state: State, who: Admin, csrf: Csrf
) -> Response:
    check_csrf(who, csrf)
    password = service.reset_password(session, actor=who.user.username, user_id=user_id)
    user = users_store.get_user(session, user_id=user_id)
    return _page(
        state,
        request,
        "users.html",
        who,
        users=users_store.list_users(session),
        roles=service.ROLES,
        new_password=(user.username, password),
    )
