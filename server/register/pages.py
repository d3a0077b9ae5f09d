"""Pages of the AI register: the list, a new entry, one entry with its history, edits,
decisions and lifecycle moves. Handlers stay thin: parse the form, check CSRF, call
server.register.service, redirect (post/redirect/get)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from collector.errors import Conflict
from collector.store import assessments, audit, register, triage, users
from collector.store.base import utcnow
from collector.store.register import ENTRY_FIELDS, FIELDS
from server.approvals.service import ASSESSMENT_KINDS, route_blockers, route_progress
from server.enforcement.formats import EXPORTS
from server.errors import GuardFailed, InvalidTransition, StaleVersion
from server.inventory.risk import risk_table
from server.register import service, states
from server.register.schemas import EntryInput, entry_form_errors
from server.reviews import service as reviews
from server.state import AppState
from server.web.deps import DbSession, Reviewer, SignedIn, State, Viewer
from server.web.listing import ListSpec, SortColumn, choice, read_view
from server.web.rendering import Csrf, Reason, check_csrf, parse_day, render_page, see_other

router = APIRouter(include_in_schema=False)


def _entry_form_data(form: FormData) -> dict[str, Any]:
    """Read each declared field from the form the way its kind is posted.

    A form may offer only some fields (the new-entry form has five): a field it does not post
    keeps its default. Check boxes are the exception: an unticked box is simply not posted.
    """
    data: dict[str, Any] = {}
    for name in EntryInput.model_fields:
        spec = FIELDS[name]
        if name not in form and spec.kind not in ("choices", "flag"):
            continue
        if spec.kind == "choices":
            data[name] = [str(value) for value in form.getlist(name)]
        elif spec.kind == "flag":
            data[name] = form.get(name) == "on"
        elif spec.kind == "links":
            data[name] = str(form.get(name, "")).splitlines()
        elif spec.kind == "months":
            data[name] = str(form.get(name)) or str(spec.default)
        else:
            data[name] = str(form.get(name))
    return data


#: What a refused form on an entry's page was: which form, each problem by the field it sits
#: beside, what was typed (shown again), the answer's status and the service's field name.
@dataclass(frozen=True, slots=True)
class Refusal:
    form: str
    errors: dict[str, str]
    typed: dict[str, Any]
    status: int
    field: str
    #: A field of the record (or the approval route) the problem is to be fixed in, with its
    #: label, when it lies outside the refused form.
    fix: tuple[str, str] | None = None


DECISION_FORM = ("decision", "rationale", "conditions", "allowed_departments", "alternative")
MOVE_FORM = ("target", "reason")
REVIEW_FORM = ("outcome", "notes", "conditions", "next_review_on")
NEXT_REVIEW_FORM = ("next_review_on",)
DISMISS_FORM = ("trigger", "reason")
RECORD_FORM = tuple(spec.name for spec in ENTRY_FIELDS)


def _plain_transition(exc: InvalidTransition) -> str:
    """Say in words why an entry cannot move, and where it can."""
    current, target = exc.current.replace("_", " "), exc.target.replace("_", " ")
    if exc.target not in states.ENTRY_TRANSITIONS:
        return f"{exc.target[:40]!r} is not a status of the register"
    allowed = [t.replace("_", " ") for t in states.entry_targets(exc.current)]
    return f"an entry that is {current} cannot become {target}" + (
        f"; it can become {', '.join(allowed)}" if allowed else "; it can no longer change"
    )


def _refusal(
    exc: GuardFailed | InvalidTransition | StaleVersion,
    *,
    form: str,
    own_fields: tuple[str, ...],
    main_field: str,
    typed: dict[str, Any],
) -> Refusal:
    """Place a service's refusal beside the field of the form it concerns (the form's main
    field when it concerns none of them), in plain words."""
    fix = None
    if isinstance(exc, GuardFailed):
        status, service_field, message = 422, exc.field, exc.reason
        if service_field in FIELDS and service_field not in own_fields:
            fix = (service_field, FIELDS[service_field].label)
        elif service_field == "approval_route":
            fix = ("approval_route", "Approval route")
    elif isinstance(exc, InvalidTransition):
        status, service_field, message = 409, main_field, _plain_transition(exc)
    else:
        status, service_field = 409, "version"
        message = (
            f"someone else changed this entry while you had it open (version {exc.expected}, "
            f"now {exc.actual}): the page shows it as it is now; check it, then save again"
        )
    where = service_field if service_field in own_fields else main_field
    return Refusal(
        form=form,
        errors={where: message},
        typed=typed,
        status=status,
        field=service_field,
        fix=fix,
    )


def _version(form: FormData) -> int:
    try:
        return int(str(form.get("version", "")))
    except ValueError as exc:
        raise GuardFailed("version", "the form lacks the entry's version; reload it") from exc


REGISTER_LIST = ListSpec(
    path="/register",
    noun=("entry", "entries"),
    sorts=(
        SortColumn("register_id", "Entry"),
        SortColumn("title", "AI use"),
        SortColumn("business_unit", "Business unit"),
        SortColumn("owner", "Owner"),
        SortColumn("risk", "Risk score", descending_first=True),
        SortColumn("risk_level", "Risk level", descending_first=True),
        SortColumn("status", "Status"),
        SortColumn("next_review", "Next review"),
        SortColumn("updated", "Updated", descending_first=True),
    ),
    default_sort="register_id",
    filters=("q", "status", "risk"),
)
NEW_ENTRY_FIELDS = ("title", "ai_system", "business_unit", "supplier", "purpose")


def _register_page(
    request: Request,
    session: Session,
    state: AppState,
    who: SignedIn,
    *,
    status: int = 200,
    new_entry: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    view = read_view(request, REGISTER_LIST)
    wanted_status = choice(view, "status", states.ENTRY_STATES, "status")
    risk_level = choice(view, "risk", FIELDS["risk_level"].values, "risk level")
    table = risk_table(state.catalogue)
    page = view.show(
        lambda wanted: register.page_register_entries(
            session,
            page=wanted,
            statuses=[wanted_status] if wanted_status else None,
            risk_level=risk_level or None,
            search=view.filters["q"] or None,
            service_points=table.service_points,
            unknown_points=table.candidate_points,
            base=table.base,
        )
    )
    return render_page(
        state,
        request,
        "register/register.html",
        who,
        status=status,
        page=page,
        view=view,
        entry_states=states.ENTRY_STATES,
        enforcement_exports=list(EXPORTS.values()),
        risk_field=FIELDS["risk_level"],
        new_entry_fields=[FIELDS[name] for name in NEW_ENTRY_FIELDS],
        new_entry=new_entry or {},
        errors=errors or {},
        f=view.filters,
        today=utcnow().date(),
    )


@router.get("/register", response_class=HTMLResponse)
def register_list(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return _register_page(request, session, state, who)


@router.post("/register")
async def register_create(
    request: Request, session: DbSession, state: State, who: Reviewer
) -> Response:
    form = await request.form(max_files=0, max_fields=100)
    check_csrf(who, str(form.get("csrf", "")))
    data = _entry_form_data(form)
    fields, errors = entry_form_errors(data)
    if fields is None:
        # The list again, the form open with what was typed and each error beside its field.
        return _register_page(
            request, session, state, who, status=422, new_entry=data, errors=errors
        )
    entry = service.create_entry(session, actor=who.user.username, fields=fields)
    return see_other(f"/register/{entry.register_id}?saved=created")


@router.get("/register/{register_id}", response_class=HTMLResponse)
def register_entry(
    register_id: str, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    return _entry_page(register_id, request, session, state, who)


def _entry_page(
    register_id: str,
    request: Request,
    session: Session,
    state: AppState,
    who: SignedIn,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    refused: Refusal | None = None,
) -> Response:
    """An entry's page; after a refused form (the record, a decision, a lifecycle move, a review),
    each error beside its field and the form showing what was typed."""
    entry = register.get_register_entry(session, register_id=register_id[:16])
    on_route = route_blockers(session, entry=entry)
    if refused is not None and refused.form == "record":
        status, errors, typed = refused.status, refused.errors, refused.typed
    response = render_page(
        state,
        request,
        "register/entry.html",
        who,
        status=refused.status if refused is not None else status,
        errors=errors or {},
        typed=typed,
        refused=refused,
        entry=entry,
        items=triage.list_items_of_entry(session, entry_id=entry.id),
        history=audit.list_audit_events(
            session, object_type="entry", object_id=entry.register_id, limit=100
        ),
        blockers={
            decision: service.decision_blockers(entry, decision, decided_by=who.user.username)
            + on_route
            for decision in (states.APPROVED, states.RESTRICTED)
        },
        routes=route_progress(session, entry=entry),
        assessments=assessments.list_assessments(session, register_id=entry.register_id),
        assessment_kinds=ASSESSMENT_KINDS,
        decisions=[d for d in states.DECISIONS if d in states.entry_targets(entry.status)],
        moves=[t for t in states.entry_targets(entry.status) if t not in states.DECISIONS],
        entry_fields=ENTRY_FIELDS,
        reviewable=entry.decision is not None
        and entry.status
        in (states.APPROVED, states.RESTRICTED, states.PROHIBITED, states.REVIEW_DUE),
        review_outcomes=reviews.REVIEW_OUTCOMES,
        triggers=reviews.reassessment_triggers(session, entry=entry),
        today=utcnow().date(),
        owners=[user.username for user in users.list_users(session) if not user.disabled],
    )
    if refused is not None:
        response.headers["X-Shadowmap-Field"] = refused.field
    return response


@router.post("/register/{register_id}")
async def register_update(
    register_id: str, request: Request, session: DbSession, state: State, who: Reviewer
) -> Response:
    form = await request.form(max_files=0, max_fields=100)
    check_csrf(who, str(form.get("csrf", "")))
    data = _entry_form_data(form)
    fields, errors = entry_form_errors(data)
    if fields is None:
        return _entry_page(
            register_id, request, session, state, who, status=422, errors=errors, typed=data
        )
    try:
        # A savepoint: a refused change leaves nothing behind when the page is shown again.
        with session.begin_nested():
            service.update_entry(
                session,
                actor=who.user.username,
                register_id=register_id[:16],
                expected_version=_version(form),
                fields=fields,
            )
    except (GuardFailed, StaleVersion) as exc:
        refused = _refusal(
            exc, form="record", own_fields=RECORD_FORM, main_field="record", typed=data
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=updated")


@router.post("/register/{register_id}/decision")
def register_decision(
    register_id: str,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    decision: Annotated[str, Form(max_length=16)],
    rationale: Reason = "",
    conditions: Annotated[str, Form(max_length=4000)] = "",
    allowed_departments: Annotated[str, Form(max_length=13_000)] = "",
    alternative: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        # A savepoint: decide_entry may have set the conditions before a guard refused.
        with session.begin_nested():
            service.decide_entry(
                session,
                actor=who.user.username,
                register_id=register_id[:16],
                expected_version=version,
                decision=decision,
                rationale=rationale,
                conditions=conditions,
                allowed_departments=allowed_departments.splitlines(),
                alternative=alternative,
            )
    except (GuardFailed, InvalidTransition, StaleVersion) as exc:
        typed = {
            "decision": decision,
            "rationale": rationale,
            "conditions": conditions,
            "allowed_departments": allowed_departments,
            "alternative": alternative,
        }
        refused = _refusal(
            exc, form="decision", own_fields=DECISION_FORM, main_field="decision", typed=typed
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=decided")


@router.post("/register/{register_id}/status")
def register_status(
    register_id: str,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    target: Annotated[str, Form(max_length=16)],
    reason: Reason = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        with session.begin_nested():
            service.move_entry(
                session,
                actor=who.user.username,
                register_id=register_id[:16],
                expected_version=version,
                target=target,
                reason=reason,
            )
    except (GuardFailed, InvalidTransition, StaleVersion) as exc:
        refused = _refusal(
            exc,
            form="move",
            own_fields=MOVE_FORM,
            main_field="target",
            typed={"target": target, "reason": reason},
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=moved")


@router.post("/register/{register_id}/review")
def register_review(
    register_id: str,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    outcome: Annotated[str, Form(max_length=32)],
    notes: Annotated[str, Form(max_length=4000)] = "",
    conditions: Annotated[str, Form(max_length=4000)] = "",
    next_review_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        with session.begin_nested():
            day = parse_day(next_review_on, "next_review_on")
            reviews.record_review(
                session,
                actor=who.user.username,
                register_id=register_id[:16],
                expected_version=version,
                outcome=outcome,
                notes=notes,
                conditions=conditions,
                next_review_on=day.date() if day else None,
            )
    except (GuardFailed, StaleVersion) as exc:
        typed = {
            "outcome": outcome,
            "notes": notes,
            "conditions": conditions,
            "next_review_on": next_review_on,
        }
        refused = _refusal(
            exc, form="review", own_fields=REVIEW_FORM, main_field="outcome", typed=typed
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=reviewed")


@router.post("/register/{register_id}/next-review")
def register_next_review(
    register_id: str,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    version: Annotated[int, Form()],
    next_review_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        with session.begin_nested():
            day = parse_day(next_review_on, "next_review_on")
            if day is None:
                raise GuardFailed("next_review_on", "give the date of the next review")
            reviews.set_next_review(
                session,
                actor=who.user.username,
                register_id=register_id[:16],
                expected_version=version,
                next_review_on=day.date(),
            )
    except (GuardFailed, StaleVersion) as exc:
        refused = _refusal(
            exc,
            form="next_review",
            own_fields=NEXT_REVIEW_FORM,
            main_field="next_review_on",
            typed={"next_review_on": next_review_on},
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=next_review")


@router.post("/register/{register_id}/triggers/dismiss")
def register_dismiss_trigger(
    register_id: str,
    request: Request,
    session: DbSession,
    state: State,
    who: Reviewer,
    csrf: Csrf,
    trigger: Annotated[str, Form(max_length=500)],
    reason: Reason = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        with session.begin_nested():
            try:
                reviews.dismiss_trigger(
                    session,
                    actor=who.user.username,
                    register_id=register_id[:16],
                    trigger=trigger,
                    reason=reason,
                )
            except Conflict as exc:
                raise GuardFailed(
                    "trigger",
                    "it is dismissed already (perhaps by someone else since this page was loaded)",
                ) from exc
    except GuardFailed as exc:
        # A trigger gone since the page was loaded (dismissed by someone else, or resolved)
        # or no reason given: said on the entry's page, the reason typed kept.
        refused = _refusal(
            exc,
            form="dismiss",
            own_fields=DISMISS_FORM,
            main_field="reason",
            typed={"trigger": trigger, "reason": reason},
        )
        return _entry_page(register_id, request, session, state, who, refused=refused)
    return see_other(f"/register/{register_id[:16]}?saved=dismissed")
