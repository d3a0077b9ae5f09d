"""Pages of the AI register: the list, a new entry, one entry with its history, edits,
decisions and lifecycle moves. Handlers stay thin: parse the form, check CSRF, call
server.register.service, redirect (post/redirect/get)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from collector.store import audit, register, triage
from collector.store.base import utcnow
from server.errors import GuardFailed
from server.register import service, states
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
from server.web.deps import DbSession, Reviewer, State, Viewer
from server.web.rendering import Csrf, Reason, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


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
    return render_page(
        state,
        request,
        "register/register.html",
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
    return see_other(f"/register/{entry.register_id}")


@router.get("/register/{register_id}", response_class=HTMLResponse)
def register_entry(
    register_id: str, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    entry = register.get_register_entry(session, register_id=register_id[:16])
    return render_page(
        state,
        request,
        "register/entry.html",
        who,
        entry=entry,
        items=triage.list_items_of_entry(session, entry_id=entry.id),
        history=audit.list_audit_events(
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
    return see_other(f"/register/{register_id[:16]}")


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
    return see_other(f"/register/{register_id[:16]}")


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
    return see_other(f"/register/{register_id[:16]}")
