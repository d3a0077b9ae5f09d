"""Pages of the draft inventory: the item list, an item's evidence and triage, the triage
queue with its bulk actions, and the suppression rules. Handlers stay thin: parse the form,
check CSRF, call server.inventory.service, redirect (post/redirect/get)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import audit, triage, users
from collector.store import inventory as inventory_store
from collector.store.register import RegisterEntry
from collector.store.users import User
from server.charts import violation_chart
from server.errors import GuardFailed
from server.inventory import service, states
from server.inventory.evidence import summarise, user_display
from server.web.deps import DbSession, Reviewer, RowId, State, Viewer
from server.web.rendering import Csrf, Reason, check_csrf, parse_day, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/inventory", response_class=HTMLResponse)
def inventory(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    # False positives are suppressed: hidden here (their rules are listed under /suppressions).
    rows = [
        row
        for row in inventory_store.list_inventory(session)
        if row.item.state != states.FALSE_POSITIVE
    ]
    return render_page(state, request, "inventory/inventory.html", who, rows=rows)


@router.get("/inventory/{item_id}", response_class=HTMLResponse)
def inventory_item(
    item_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    item = inventory_store.get_inventory_item(session, item_id=item_id)
    sightings = inventory_store.list_sightings(session, item_id=item_id)
    catalogue_entry = state.catalogue.get(item.service_id) if item.service_id else None
    show_user = user_display(state.settings.user_pseudonym_key)
    record = triage.get_triage_record(session, item_id=item_id)
    entry = (
        session.get(RegisterEntry, record.register_entry_id) if record.register_entry_id else None
    )
    assignee = session.get(User, record.assignee_id) if record.assignee_id else None
    return render_page(
        state,
        request,
        "inventory/item.html",
        who,
        item=item,
        sightings=sightings,
        service=catalogue_entry,
        summary=summarise(sightings, show_user),
        show_user=show_user,
        record=record,
        entry=entry,
        assignee=assignee,
        targets=[
            t
            for t in states.triage_targets(item.state)
            if t not in (states.PROMOTED, states.MERGED)
        ],
        can_promote=states.PROMOTED in states.triage_targets(item.state),
        can_merge=states.MERGED in states.triage_targets(item.state),
        reviewers=[u for u in users.list_users(session) if u.role != "viewer" and not u.disabled],
        comments=triage.list_comments(session, item_id=item_id),
        history=audit.list_audit_events(
            session, object_type="item", object_id=str(item_id), limit=50
        ),
        reason_required=states.TRIAGE_REASON_REQUIRED,
        violations=inventory_store.list_violations(session, item_id=item_id, limit=200),
        violation_trend=violation_chart(
            inventory_store.list_violation_trend(session, item_id=item_id)
        ),
    )


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
    account: Annotated[str, Query(max_length=16)] = "",
    severity: Annotated[str, Query(max_length=16, pattern=r"^(|normal|malicious)$")] = "",
) -> Response:
    if account and account not in inventory_store.PROFILE_ACCOUNTS:
        raise GuardFailed("account", f"unknown browser profile class {account!r}")
    if status == "open":
        wanted: list[str] | None = list(states.TRIAGE_OPEN)
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
        first_seen_after=parse_day(since, "since"),
        search=q or None,
        assignee_id=who.user.id if mine else None,
        profile_account=account or None,
        severity=severity or None,
    )
    return render_page(
        state,
        request,
        "inventory/triage.html",
        who,
        rows=rows,
        categories=inventory_store.list_categories(session),
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
            "account": account,
            "severity": severity,
        },
        profile_accounts=inventory_store.PROFILE_ACCOUNTS,
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
    return see_other("/triage")


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
    return see_other(f"/inventory/{item_id}")


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
    return see_other(f"/inventory/{item_id}")


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
    return see_other(f"/inventory/{item_id}#comments")


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
    return see_other(f"/inventory/{item_id}")


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
    return see_other(f"/register/{entry.register_id}")


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rules = triage.list_suppression_rules(session)
    return render_page(state, request, "inventory/suppressions.html", who, rules=rules)
