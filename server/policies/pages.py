"""Policy pages: the list and the draft form, one version (rendered safely) with its coverage
and acknowledgement links, publishing, acknowledging as a signed-in user, reminders; and the
public per-person acknowledgement page, whose link is its own credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from collector.store import people, policies
from server.policies import service
from server.web.deps import Admin, DbSession, RowId, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=100)]


@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    return render_page(
        state,
        request,
        "policies/policies.html",
        who,
        versions=policies.list_policy_versions(session),
    )


@router.post("/policies")
def policies_draft(
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    policy_key: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    body_markdown: Annotated[str, Form(max_length=service.MAX_BODY)],
    approver_role: Annotated[str, Form(max_length=120)],
) -> Response:
    check_csrf(who, csrf)
    policy = service.draft_policy(
        session,
        actor=who.user.username,
        policy_key=policy_key,
        title=title,
        body_markdown=body_markdown,
        approver_role=approver_role,
    )
    return see_other(f"/policies/{policy.id}")


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(
    policy_id: RowId,
    request: Request,
    session: DbSession,
    state: State,
    who: Viewer,
    reminded: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
) -> Response:
    policy = policies.get_policy_version(session, policy_id=policy_id)
    published = policy.status == policies.PUBLISHED
    me = people.find_person(session, username=who.user.username)
    links = []
    if published and who.user.role == "admin":
        links = [
            (
                person,
                service.acknowledgement_link(
                    state.settings, policy_id=policy.id, person_id=person.id
                ),
            )
            for person in service.missing_acknowledgements(session, policy=policy, limit=200)
        ]
    return render_page(
        state,
        request,
        "policies/policy.html",
        who,
        policy=policy,
        body=Markup(service.render_markdown(policy.body_markdown)),  # noqa: S704 - sanitised
        coverage=service.acknowledgement_coverage(session, policy=policy) if published else [],
        me=me,
        acknowledged=bool(
            me
            and published
            and policies.get_acknowledgement(session, policy_id=policy.id, person_id=me.id)
        ),
        links=links,
        reminded=reminded,
    )


@router.post("/policies/{policy_id}/publish")
def policy_publish(policy_id: RowId, session: DbSession, who: Admin, csrf: Csrf) -> Response:
    check_csrf(who, csrf)
    service.publish_policy(session, actor=who.user.username, policy_id=policy_id)
    return see_other(f"/policies/{policy_id}")


@router.post("/policies/{policy_id}/acknowledge")
def policy_acknowledge(policy_id: RowId, session: DbSession, who: Viewer, csrf: Csrf) -> Response:
    check_csrf(who, csrf)
    service.acknowledge_signed_in(session, username=who.user.username, policy_id=policy_id)
    return see_other(f"/policies/{policy_id}")


@router.post("/policies/{policy_id}/reminders")
def policy_remind(
    policy_id: RowId, session: DbSession, state: State, who: Admin, csrf: Csrf
) -> Response:
    check_csrf(who, csrf)
    sent = service.send_reminders(
        session, actor=who.user.username, settings=state.settings, policy_id=policy_id
    )
    return see_other(f"/policies/{policy_id}?reminded={len(sent)}")


def _link_key(state: State) -> bytes:
    from server.signing import derive_key, master_key

    return derive_key(master_key(state.settings.data_dir), service.ACK_PURPOSE)


@router.get("/acknowledge/{token}", response_class=HTMLResponse)
def acknowledge_page(token: Token, request: Request, session: DbSession, state: State) -> Response:
    policy, person = service.resolve_token(session, _link_key(state), token)
    done = policies.get_acknowledgement(session, policy_id=policy.id, person_id=person.id)
    return render_page(
        state,
        request,
        "policies/acknowledge.html",
        None,
        policy=policy,
        person=person,
        body=Markup(service.render_markdown(policy.body_markdown)),  # noqa: S704 - sanitised
        done=done,
        token=token,
    )


@router.post("/acknowledge/{token}")
def acknowledge_by_link(token: Token, session: DbSession, state: State) -> Response:
    policy, person = service.resolve_token(session, _link_key(state), token)
    service.acknowledge(session, policy=policy, person=person, via="link")
    return see_other(f"/acknowledge/{token}")
