"""Pages of the hosts: the list (stale ones flagged) and one host's sightings."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector import governance
from collector.errors import NotFound
from collector.store import agents, inventory, limits, releases
from collector.store import hosts as hosts_store
from server.agents import service as agents_service
from server.charts import violation_chart
from server.inventory.evidence import user_display
from server.web.deps import Admin, DbSession, RowId, State, Viewer
from server.web.rendering import Csrf, check_csrf, render_page, see_other

router = APIRouter(include_in_schema=False)


@router.get("/hosts", response_class=HTMLResponse)
def hosts(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rows = hosts_store.list_hosts(
        session, stale_after=dt.timedelta(minutes=state.settings.stale_after_minutes)
    )
    return render_page(
        state,
        request,
        "hosts/hosts.html",
        who,
        rows=rows,
        governed=inventory.governed_counts_by_host(session),
        violations=inventory.count_violations_by_host(session),
        statuses=governance.GOVERNED_STATUSES,
    )


@router.get("/hosts/{host_id}", response_class=HTMLResponse)
def host_detail(
    host_id: RowId, request: Request, session: DbSession, state: State, who: Viewer
) -> Response:
    host = hosts_store.get_host(session, host_id=host_id)
    sightings = inventory.list_sightings(session, host_id=host_id)
    items = {
        sighting.item_id: inventory.get_inventory_item(session, item_id=sighting.item_id)
        for sighting, _host in sightings
    }
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
    )


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
