"""Pages of the hosts: the list (stale ones flagged) and one host's sightings."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector.store import hosts as hosts_store
from collector.store import inventory, limits, releases
from server.web.deps import DbSession, RowId, State, Viewer
from server.web.rendering import render_page

router = APIRouter(include_in_schema=False)


@router.get("/hosts", response_class=HTMLResponse)
def hosts(request: Request, session: DbSession, state: State, who: Viewer) -> Response:
    rows = hosts_store.list_hosts(
        session, stale_after=dt.timedelta(minutes=state.settings.stale_after_minutes)
    )
    return render_page(state, request, "hosts/hosts.html", who, rows=rows)


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
        agent_updates=agent_updates,
    )
