"""Pages of the draft inventory: the item list, an item's evidence and triage, the triage
queue with its bulk actions, and the suppression rules. Handlers stay thin: parse the form,
check CSRF, call server.inventory.service, redirect (post/redirect/get)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from collector import governance
from collector.errors import NotFound
from collector.store import audit, triage, users
from collector.store import inventory as inventory_store
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from collector.store.triage import ItemFilters
from collector.store.users import User
from server.charts import violation_chart
from server.errors import GuardFailed, InvalidTransition
from server.inventory import service, states
from server.inventory.evidence import summarise, user_display
from server.inventory.risk import risk_table, score_item
from server.state import AppState
from server.web.deps import DbSession, Reviewer, RowId, SignedIn, State, Viewer
from server.web.listing import ListSpec, ListView, SortColumn, choice, read_view
from server.web.rendering import Csrf, Reason, check_csrf, parse_day, render_page, see_other

router = APIRouter(include_in_schema=False)


ITEM_SORTS = (
    SortColumn("risk", "Risk", descending_first=True),
    SortColumn("name", "AI service"),
    SortColumn("vendor", "Vendor"),
    SortColumn("category", "Category"),
    SortColumn("state", "State"),
    SortColumn("assignee", "Assignee"),
    SortColumn("hosts", "Hosts", descending_first=True),
    SortColumn("users", "Users", descending_first=True),
    SortColumn("first_seen", "First seen"),
    SortColumn("last_seen", "Last seen", descending_first=True),
    SortColumn("governed", "Register status"),
    SortColumn("queue", "Queue order"),
)
ITEM_FILTERS = (
    "q", "status", "category", "evidence", "account", "severity", "min_hosts", "since", "mine",
    "candidates", "governed", "done", "n",
)  # fmt: skip
TRIAGE_LIST = ListSpec(
    path="/triage",
    noun=("item", "items"),
    sorts=ITEM_SORTS,
    default_sort="queue",
    filters=ITEM_FILTERS,
)
INVENTORY_LIST = ListSpec(
    path="/inventory",
    noun=("item", "items"),
    sorts=ITEM_SORTS,
    default_sort="last_seen",
    default_descending=True,
    filters=ITEM_FILTERS,
)
EVIDENCE_KINDS = ("process", "browser_extension", "ide_extension", "app", "package", "dns", "sni")
#: What a bulk action did, as the confirmation after it says it.
BULK_DONE = {
    "assign_to_me": "assigned to you",
    "triaging": "moved to triaging",
    "needs_info": "marked needs info",
    "false_positive": "marked false positive (and suppressed)",
    "out_of_scope": "marked out of scope",
}


def _item_filters(view: ListView, who: SignedIn, *, default_status: str) -> ItemFilters:
    """Read the item filters of a list view; a value that makes no sense is named and ignored."""
    f = view.filters
    status = f["status"] or default_status
    if status not in ("open", "all", *states.TRIAGE_STATES):
        view.problem(f"state {status[:40]!r} is not a triage state; all states shown")
        status = f["status"] = default_status
    wanted: list[str] | None
    if status == "open":
        wanted = list(states.TRIAGE_OPEN)
    elif status == "all":
        wanted = None
    else:
        wanted = [status]
    min_hosts = f["min_hosts"]
    if min_hosts and not (min_hosts.isdigit() and 0 < int(min_hosts) <= 10_000_000):
        view.problem(f"minimum hosts {min_hosts[:20]!r} is not a whole number above 0")
        min_hosts = f["min_hosts"] = ""
    try:
        since = parse_day(f["since"], "since")
    except GuardFailed:
        view.problem(f"first seen since {f['since'][:20]!r} is not a date like 2026-11-27")
        since = None
        f["since"] = ""
    candidates = choice(view, "candidates", ("yes", "no"), "catalogue filter")
    # The register's status of an item; "none": not in the register.
    governed = choice(view, "governed", (*governance.ENTRY_STATUSES, "none"), "register status")
    return ItemFilters(
        states=wanted,
        # False positives are suppressed: hidden unless asked for (rules under /suppressions).
        exclude_states=(states.FALSE_POSITIVE,) if status == "all" else (),
        category=f["category"] or None,
        evidence_kind=choice(view, "evidence", EVIDENCE_KINDS, "evidence kind") or None,
        min_hosts=int(min_hosts) if min_hosts else None,
        first_seen_after=since,
        search=f["q"] or None,
        assignee_id=who.user.id if f["mine"] == "true" else None,
        profile_account=choice(view, "account", inventory_store.PROFILE_ACCOUNTS, "browser profile")
        or None,
        severity=choice(view, "severity", ("normal", "malicious"), "severity") or None,
        candidates={"yes": True, "no": False}.get(candidates),
        governed_status=(governance.UNGOVERNED if governed == "none" else governed)
        if governed
        else None,
    )


def _item_list(
    request: Request,
    session: Session,
    state: AppState,
    who: SignedIn,
    spec: ListSpec,
    *,
    template: str,
    default_status: str,
) -> Response:
    view = read_view(request, spec)
    filters = _item_filters(view, who, default_status=default_status)
    table = risk_table(state.catalogue)
    page = view.show(
        lambda wanted: triage.page_items(session, filters=filters, page=wanted, risk=table)
    )
    done = ""
    if view.filters["done"] in BULK_DONE and view.filters["n"].isdigit():
        count = int(view.filters["n"])
        done = f"{count} item{'' if count == 1 else 's'} {BULK_DONE[view.filters['done']]}."
    view.filters["done"] = view.filters["n"] = ""
    return render_page(
        state,
        request,
        template,
        who,
        page=page,
        view=view,
        rows=page.rows,
        done=done,
        categories=inventory_store.list_categories(session),
        evidence_kinds=EVIDENCE_KINDS,
        triage_states=states.TRIAGE_STATES,
        bulk_actions=service.BULK_ACTIONS,
        f=view.filters,
        default_status=default_status,
        profile_accounts=inventory_store.PROFILE_ACCOUNTS,
        governed_statuses=governance.ENTRY_STATUSES,
    )


@router.get("/inventory", response_class=HTMLResponse)
def inventory(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return _item_list(
        request,
        session,
        state,
        who,
        INVENTORY_LIST,
        template="inventory/inventory.html",
        default_status="all",
    )


@router.get("/inventory/{item_id}", response_class=HTMLResponse)
def inventory_item(
    item_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    return _item_page(item_id, request, session, state, who)


#: Sightings per page of an item's page (the widest items have one per host and user).
SIGHTINGS_PER_PAGE = 50


def _item_page(
    item_id: int,
    request: Request,
    session: Session,
    state: AppState,
    who: SignedIn,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The item page; after a refused form, with the error beside its field and what was
    typed kept."""
    item = inventory_store.get_inventory_item(session, item_id=item_id)
    sightings_total = inventory_store.count_item_sightings(session, item_id=item_id)
    pages = max(1, -(-sightings_total // SIGHTINGS_PER_PAGE))
    wanted = request.query_params.get("page", "1")
    sightings_page = min(int(wanted), pages) if wanted.isdigit() and int(wanted) > 0 else 1
    sightings = inventory_store.list_sightings(
        session,
        item_id=item_id,
        limit=SIGHTINGS_PER_PAGE,
        offset=(sightings_page - 1) * SIGHTINGS_PER_PAGE,
    )
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
        status=status,
        errors=errors or {},
        typed=typed or {},
        item=item,
        sightings=sightings,
        service=catalogue_entry,
        summary=summarise(session, item, show_user),
        sightings_total=sightings_total,
        sightings_page=sightings_page,
        sightings_pages=pages,
        sightings_per_page=SIGHTINGS_PER_PAGE,
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
        merged_into_name=inventory_store.item_names(session, item_ids=[record.merged_into_id]).get(
            record.merged_into_id
        )
        if record.merged_into_id
        else None,
        merge_targets=inventory_store.merge_target_names(session, except_item_id=item_id)
        if states.MERGED in states.triage_targets(item.state)
        else [],
        risk=score_item(
            catalogue_entry,
            state=item.state,
            malicious=item.severity == inventory_store.MALICIOUS,
            governed_status=item.governed_status,
            violated=item.last_violation_at is not None,
        ),
        violations=inventory_store.list_violations(session, item_id=item_id, limit=200),
        violation_trend=violation_chart(
            inventory_store.list_violation_trend(session, item_id=item_id)
        ),
    )


# Triage --------------------------------------------------------------------------------------


@router.get("/triage", response_class=HTMLResponse)
def triage_queue(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return _item_list(
        request,
        session,
        state,
        who,
        TRIAGE_LIST,
        template="inventory/triage.html",
        default_status="open",
    )


def _list_return(value: str) -> str:
    """Return where a bulk form came from if it is one of the item lists, else the queue."""
    for spec in (TRIAGE_LIST, INVENTORY_LIST):
        if value == spec.path or value.startswith(spec.path + "?"):
            return value[:2000]
    return TRIAGE_LIST.path


def _selected_items(session: Session, item_ids: list[int]) -> list[InventoryItem]:
    """Return the selected items in the order selected, read in one query; raises NotFound."""
    found = inventory_store.get_inventory_items(session, item_ids=item_ids)
    for item_id in item_ids:
        if item_id not in found:
            raise NotFound("inventory item", item_id)
    return [found[item_id] for item_id in item_ids]


@router.post("/triage/bulk")
async def triage_bulk(
    request: Request, session: DbSession, state: State, who: Reviewer
) -> Response:
    """Apply a bulk action after a confirmation that names the count and the items."""
    form = await request.form(max_files=0, max_fields=service.BULK_LIMIT + 20)
    check_csrf(who, str(form.get("csrf", "")))
    back = _list_return(str(form.get("back", "")))
    action = str(form.get("action", ""))[:32]
    reason = str(form.get("reason", ""))[:4000]
    errors: dict[str, str] = {}
    try:
        item_ids = list(dict.fromkeys(int(str(value)) for value in form.getlist("item")))
    except ValueError:
        item_ids = []
        errors["item"] = "the selection was not understood; select the items again"
    if not item_ids and "item" not in errors:
        errors["item"] = "select at least one item first"
    if len(item_ids) > service.BULK_LIMIT:
        errors["item"] = f"select at most {service.BULK_LIMIT:,} items at a time"
    if action not in service.BULK_ACTIONS:
        errors["action"] = "choose one of the actions"
    elif action in states.TRIAGE_REASON_REQUIRED and not reason.strip():
        errors["reason"] = f"write why these items are {BULK_DONE[action].split(' (')[0]}"
    if errors or form.get("confirm") != "yes":
        items = (
            _selected_items(session, item_ids[: service.BULK_LIMIT]) if "item" not in errors else []
        )
        return render_page(
            state,
            request,
            "inventory/bulk_confirm.html",
            who,
            status=422 if errors else 200,
            items=items,
            action=action,
            reason=reason,
            back=back,
            errors=errors,
            bulk_actions=service.BULK_ACTIONS,
            reason_required=states.TRIAGE_REASON_REQUIRED,
            done_words=BULK_DONE,
        )
    changed = service.bulk_triage(
        session, actor=who.user.username, item_ids=item_ids, action=action, reason=reason
    )
    joiner = "&" if "?" in back else "?"
    return see_other(f"{back}{joiner}{urlencode({'done': action, 'n': changed})}")


def _refused_move(exc: InvalidTransition) -> str:
    """A refused triage move in plain words (the state names as the page shows them)."""
    current, target = exc.current.replace("_", " "), exc.target.replace("_", " ")
    if exc.target not in states.TRIAGE_TRANSITIONS:
        return f"“{target}” is not a triage state; choose one of the states listed"
    return (
        f"this item is {current} now (it may have changed since this page was loaded) and "
        f"cannot move to {target} from there; choose one of the states listed"
    )


@router.post("/inventory/{item_id}/state")
def item_state(
    item_id: RowId,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    target: Annotated[str, Form(max_length=32)],
    reason: Reason = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        service.transition_item(
            session, actor=who.user.username, item_id=item_id, target=target, reason=reason
        )
    except (GuardFailed, InvalidTransition) as exc:
        if isinstance(exc, InvalidTransition):
            # A page loaded before someone else moved the item offers moves it no longer has.
            field, said = "target", _refused_move(exc)
        else:
            field, said = ("reason" if exc.field == "reason" else "target"), exc.reason
        return _item_page(
            item_id,
            request,
            session,
            state,
            who,
            status=422,
            errors={field: said},
            typed={"target": target, "reason": reason},
        )
    return see_other(f"/inventory/{item_id}?saved=state")


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
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    into: Annotated[str, Form(max_length=255)],
) -> Response:
    """Merge an item into another, picked by its name (or its number)."""
    check_csrf(who, csrf)
    target = into.strip().removeprefix("#")
    if target.isdigit():
        into_id = int(target)
    else:
        matches = inventory_store.find_items_by_name(session, name=target, limit=2)
        matches = [found for found in matches if found != item_id]
        if len(matches) != 1:
            problem = (
                f"no other item is named {target!r}; pick a name from the list"
                if not matches
                else f"more than one item is named {target!r}; use its number"
            )
            return _item_page(
                item_id,
                request,
                session,
                state,
                who,
                status=422,
                errors={"into": problem},
                typed={"into": into},
            )
        into_id = matches[0]
    service.merge_item(session, actor=who.user.username, item_id=item_id, into_item_id=into_id)
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
    return see_other(f"/register/{entry.register_id}?saved=promoted")


@router.get("/suppressions", response_class=HTMLResponse)
def suppressions(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rules = triage.list_suppression_rules(session)
    return render_page(state, request, "inventory/suppressions.html", who, rules=rules)
