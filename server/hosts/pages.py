"""Pages of the hosts: the list (paged, sorted, searched and filtered; stale ones flagged), one
host's sightings, and its department (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from collector import governance
from collector.errors import NotFound
from collector.store import agents, inventory, limits, releases
from collector.store import hosts as hosts_store
from server.agents import service as agents_service
from server.charts import violation_chart
from server.inventory.evidence import user_display
from server.inventory.risk import risk_table
from server.web.deps import Admin, DbSession, RowId, State, Viewer
from server.web.listing import ListSpec, SortColumn, choice, read_view
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)

HOST_LIST = ListSpec(
    path="/hosts",
    noun=("host", "hosts"),
    sorts=(
        SortColumn("hostname", "Host"),
        SortColumn("risk", "Risk", descending_first=True),
        SortColumn("os", "OS"),
        SortColumn("department", "Department"),
        SortColumn("agent_version", "Agent"),
        SortColumn("items", "AI items", descending_first=True),
        SortColumn("violations", "Violations", descending_first=True),
        SortColumn("first_seen", "Enrolled", descending_first=True),
        SortColumn("last_report", "Last report", descending_first=True),
    ),
    default_sort="hostname",
    filters=("q", "stale", "os", "department", "agent", "violations", "saved"),
)


@router.get("/hosts", response_class=HTMLResponse)
def hosts(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    view = read_view(request, HOST_LIST)
    facets = hosts_store.host_facets(session)
    stale = choice(view, "stale", ("yes", "no"), "reporting filter")
    with_violations = choice(view, "violations", ("yes", "no"), "violations filter")
    filters = hosts_store.HostFilters(
        search=view.filters["q"] or None,
        stale={"yes": True, "no": False}.get(stale),
        os=choice(view, "os", facets["os"], "operating system") or None,
        department=choice(view, "department", ["-", *facets["department"]], "department") or None,
        agent_version=choice(view, "agent", facets["agent_version"], "agent version") or None,
        has_violations={"yes": True, "no": False}.get(with_violations),
    )
    stale_after = dt.timedelta(minutes=state.settings.stale_after_minutes)
    page = view.show(
        lambda wanted: hosts_store.page_hosts(
            session,
            filters=filters,
            page=wanted,
            stale_after=stale_after,
            risk=inventory.host_risk(session, risk_table(state.catalogue)),
        )
    )
    return render_page(
        state,
        request,
        "hosts/hosts.html",
        who,
        page=page,
        view=view,
        f=view.filters,
        facets=facets,
        governed=inventory.governed_counts_by_host(
            session, host_ids=[row.host.id for row in page.rows]
        ),
        statuses=governance.GOVERNED_STATUSES,
    )


@router.get("/hosts/{host_id}", response_class=HTMLResponse)
def host_detail(
    host_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    host = hosts_store.get_host(session, host_id=host_id)
    sightings = inventory.list_sightings(session, host_id=host_id)
    items = inventory.items_by_id(
        session, item_ids=[sighting.item_id for sighting, _host in sightings]
    )
    limit_hits = limits.list_host_limit_hits(session, host_id=host_id)
    violations = inventory.list_violations(session, host_id=host_id, limit=200)
    host_agents = agents.list_host_agents(session, host_id=host_id)
    agent_updates = releases.list_host_update_states(session, host_id=host_id)
    return render_page(
        state,
        request,
        "hosts/host.html",
        who,
        host=host,
        sightings=sightings,
        items=items,
        limit_hits=limit_hits,
        violations=violations,
        violation_names=inventory.item_names(
            session, item_ids=[violation.item_id for violation, _host in violations]
        ),
        violation_trend=violation_chart(inventory.list_violation_trend(session, host_id=host_id)),
        agents=host_agents,
        show_user=user_display(state.settings.user_pseudonym_key),
        agent_updates=agent_updates,
        saved=request.query_params.get("saved") == "department",
    )


@router.post("/hosts/{host_id}/department")
def host_department(
    host_id: RowId,
    session: DbSession,
    who: Admin,
    csrf: Csrf,
    department: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Set a host's department (rolled up per item from the host's next report)."""
    check_csrf(who, csrf)
    hosts_store.update_host(session, host_id=host_id, department=department)
    return see_other(f"/hosts/{host_id}?saved=department")


def _agent_of_host(session: DbSession, host_id: int, agent_id: int) -> None:
    if agents.get_agent(session, agent_id=agent_id).host_id != host_id:
        raise NotFound("agent", agent_id)


@router.post("/hosts/{host_id}/agents/{agent_number}/revoke")
def revoke_agent(
    host_id: RowId, agent_number: RowId, session: DbSession, who: Admin, csrf: Csrf
) -> Response:
    """Revoke one agent of the host (admins)."""
    check_csrf(who, csrf)
    _agent_of_host(session, host_id, agent_number)
    agents_service.revoke_agent(session, actor=who.user.username, agent_id=agent_number)
    return see_other(f"/hosts/{host_id}")


@router.post("/hosts/{host_id}/agents/{agent_number}/approve-reenrollment")
def approve_reenrollment(
    host_id: RowId, agent_number: RowId, session: DbSession, who: Admin, csrf: Csrf
) -> Response:
    """Let one agent of the host enroll again once without its credential (admins)."""
    check_csrf(who, csrf)
    _agent_of_host(session, host_id, agent_number)
    agents_service.approve_reenrollment(session, actor=who.user.username, agent_id=agent_number)
    return see_other(f"/hosts/{host_id}")
