"""The shared list component on real pages: true totals, sorting and paging in the URL, a bad
query parameter shown as a message (never raw JSON), bulk actions behind a confirmation, inline
form errors that keep what was typed, and a confirmation after a save."""

from __future__ import annotations

import re
from html import unescape

from fastapi import FastAPI
from fastapi.testclient import TestClient

from collector.db import transaction
from tests.factories import finding
from tests.server.conftest import sign_in
from tests.server.seed import ingest_items

SERVICES = ["openai-chatgpt", "anthropic-claude", "github-copilot", "deepseek-chat"]


def _seed(app: FastAPI, hosts: int = 5) -> dict[str, int]:
    """``hosts`` hosts report; service i is seen on the first i+1 of them (Claude: 2 hosts)."""
    items: dict[str, int] = {}
    with transaction(app.state.shadowmap.sessions) as session:
        for number in range(hosts):
            found = [
                finding(service_id, indicator=f"{service_id}-p")
                for rank, service_id in enumerate(SERVICES)
                if number <= rank
            ]
            items = ingest_items(
                session, *found, host=f"host-{number:02d}", uid=f"agent-{number:04d}"
            )
    return items


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/inventory/\d+">([^<]+)</a>', html)


def test_lists_say_how_many_sort_by_hosts_and_page_through_the_url(
    client: TestClient, app: FastAPI
) -> None:
    _seed(app)
    sign_in(client, "viewer")
    widest = client.get("/inventory", params={"sort": "hosts", "dir": "desc"}).text
    assert _names(widest)[0] == "Deepseek Chat"  # seen on four hosts
    assert "4 items" in widest
    first = client.get("/triage", params={"sort": "hosts", "dir": "desc", "per_page": 3}).text
    assert "Showing 1-3 of 4 items" in unescape(first)
    # The next page's link carries the sort, the direction and the page size.
    next_link = unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))  # type: ignore[union-attr]
    assert next_link == "/triage?sort=hosts&dir=desc&per_page=3&page=2"
    second = client.get(next_link).text
    assert _names(second) == ["ChatGPT"] and "Showing 4-4 of 4 items" in unescape(second)
    assert 'aria-sort="descending"' in second


def test_a_bad_query_parameter_gives_the_page_with_a_message(
    client: TestClient, app: FastAPI
) -> None:
    _seed(app)
    sign_in(client, "viewer")
    for path in ("/triage", "/inventory", "/hosts", "/register", "/audit", "/reviews"):
        page = client.get(
            path, params={"sort": "nonsense", "page": "abc", "per_page": "0", "min_hosts": "x"}
        )
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
        text = unescape(page.text)
        assert "cannot be sorted by 'nonsense'" in text and "page 'abc'" in text, path
    past = client.get("/triage", params={"page": "9"})
    assert "there is no page 9; the last page is 1" in past.text
    assert len(_names(past.text)) == 4


def test_filters_and_search_combine_with_paging(client: TestClient, app: FastAPI) -> None:
    _seed(app)
    sign_in(client, "viewer")
    page = client.get("/inventory", params={"min_hosts": 2, "q": "c", "sort": "name"}).text
    assert _names(page) == ["Claude", "Deepseek Chat", "GitHub Copilot"]
    assert "3 items" in page
    hosts = client.get("/hosts", params={"q": "host-0", "sort": "items", "dir": "desc"}).text
    assert re.findall(r'<a href="/hosts/\d+">([^<]+)</a>', hosts)[0] == "host-00"
    assert "5 hosts" in hosts


def test_a_bulk_action_is_confirmed_with_its_count_then_reported(
    client: TestClient, app: FastAPI
) -> None:
    items = _seed(app)
    csrf = sign_in(client, "reviewer")
    chosen = [str(items["Claude"]), str(items["Deepseek Chat"])]
    back = "/triage?sort=hosts&dir=desc"
    confirm = client.post(
        "/triage/bulk",
        data={"csrf": csrf, "item": chosen, "action": "assign_to_me", "back": back},
    )
    assert confirm.status_code == 200
    assert "Assign to me: 2 items?" in unescape(confirm.text)
    assert confirm.text.index("Claude") < confirm.text.index("Deepseek Chat")  # as selected
    unknown = client.post(
        "/triage/bulk",
        data={
            "csrf": csrf,
            "item": [*chosen, str(max(items.values()) + 100)],
            "action": "triaging",
        },
    )
    assert unknown.status_code == 404
    assert f'href="{back.replace("&", "&amp;")}"' in confirm.text  # Cancel goes back
    assert {row["state"] for row in client.get("/api/v1/inventory").json()} == {"new"}
    done = client.post(
        "/triage/bulk",
        data={
            "csrf": csrf,
            "item": chosen,
            "action": "assign_to_me",
            "back": back,
            "confirm": "yes",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == back + "&done=assign_to_me&n=2"
    shown = client.get(done.headers["location"]).text
    assert "2 items assigned to you." in shown
    # Somewhere else than a list of items is refused as the way back.
    elsewhere = client.post(
        "/triage/bulk",
        data={"csrf": csrf, "item": chosen, "action": "triaging", "back": "https://evil.test/"},
    )
    assert 'href="https://evil.test/"' not in elsewhere.text


def test_a_register_form_error_is_said_beside_the_field_and_keeps_what_was_typed(
    client: TestClient,
) -> None:
    csrf = sign_in(client, "reviewer")
    answer = client.post(
        "/register",
        data={"csrf": csrf, "title": "   ", "ai_system": "Otter <b>notes</b>", "purpose": "x"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert '<p class="field-error" id="n-title-error">Title is required' in answer.text
    assert 'aria-invalid="true" aria-describedby="n-title-error"' in answer.text
    assert 'value="Otter &lt;b&gt;notes&lt;/b&gt;"' in answer.text  # kept, escaped
    assert "should match pattern" not in answer.text and "^[" not in answer.text
    created = client.post(
        "/register",
        data={"csrf": csrf, "title": "Meeting notes", "ai_system": "Otter"},
        follow_redirects=False,
    )
    assert created.headers["location"].endswith("?saved=created")
    assert "Entry created." in client.get(created.headers["location"]).text


def test_an_admin_sets_a_host_department_from_its_page(client: TestClient, app: FastAPI) -> None:
    _seed(app, hosts=1)
    csrf = sign_in(client, "admin")
    host_link = re.search(r'href="(/hosts/\d+)"', client.get("/hosts").text).group(1)  # type: ignore[union-attr]
    saved = client.post(f"{host_link}/department", data={"csrf": csrf, "department": "Finance"})
    assert saved.status_code == 200 and "Department saved." in saved.text
    assert "Finance" in client.get("/hosts", params={"department": "Finance"}).text
    assert "No host matches" in client.get("/hosts", params={"department": "-"}).text
    sign_in(client, "reviewer")
    refused = client.post(f"{host_link}/department", data={"csrf": csrf, "department": "x"})
    assert refused.status_code == 403


def test_user_form_errors_stay_beside_the_field_and_the_audit_trail_names_items(
    client: TestClient, app: FastAPI
) -> None:
    items = _seed(app, hosts=1)
    csrf = sign_in(client, "admin")
    refused = client.post(
        "/admin/users", data={"csrf": csrf, "username": "bad name!", "role": "reviewer"}
    )
    assert refused.status_code == 422
    assert 'id="new-username-error"' in refused.text and 'value="bad name!"' in refused.text
    assert re.search(r'<option value="reviewer" selected>', refused.text)
    listed = client.get("/admin/users", params={"role": "viewer"}).text
    assert "1 user" in listed
    assert re.findall(r"<td>([a-z]+)</td>", listed)[0] == "viewer"
    assert "<td>reviewer</td>" not in listed and "<td>admin</td>" not in listed
    reviewer_csrf = sign_in(client, "reviewer")
    client.post(
        f"/inventory/{items['Claude']}/assign",
        data={"csrf": reviewer_csrf, "assignee": "reviewer"},
    )
    trail = client.get("/audit", params={"object_type": "item"}).text
    assert f'<a href="/inventory/{items["Claude"]}">Claude</a>' in trail


def test_a_malformed_address_gives_a_page_for_people_and_json_for_programs(
    client: TestClient,
) -> None:
    sign_in(client, "viewer")
    page = client.get("/inventory/not-a-number", headers={"accept": "text/html"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "This address or form was not understood" in page.text
    assert "item id: Input should be a valid integer" in page.text
    api = client.get("/inventory/not-a-number", headers={"accept": "application/json"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["path", "item_id"]


def test_merging_picks_the_target_by_name(client: TestClient, app: FastAPI) -> None:
    items = _seed(app, hosts=2)
    csrf = sign_in(client, "reviewer")
    copilot, claude = items["GitHub Copilot"], items["Claude"]
    client.post(f"/inventory/{copilot}/assign", data={"csrf": csrf, "assignee": "reviewer"})
    page = client.get(f"/inventory/{copilot}").text
    assert '<option value="Claude">' in page and '<option value="GitHub Copilot">' not in page
    unknown = client.post(f"/inventory/{copilot}/merge", data={"csrf": csrf, "into": "Clod"})
    assert unknown.status_code == 422 and "no other item is named" in unescape(unknown.text)
    merged = client.post(f"/inventory/{copilot}/merge", data={"csrf": csrf, "into": "claude"})
    assert merged.status_code == 200
    assert f'<a href="/inventory/{claude}">Claude</a>' in merged.text  # "Merged into" by name


def test_a_refused_entry_edit_keeps_what_was_typed_beside_each_error(
    client: TestClient,
) -> None:
    csrf = sign_in(client, "reviewer")
    location = (
        client.post(
            "/register",
            data={"csrf": csrf, "title": "Meeting notes", "ai_system": "Otter"},
            follow_redirects=False,
        )
        .headers["location"]
        .split("?")[0]
    )
    version = re.search(r'name="version" value="(\d+)"', client.get(location).text).group(1)  # type: ignore[union-attr]
    refused = client.post(
        location,
        data={
            "csrf": csrf,
            "version": version,
            "title": "",
            "ai_system": "Otter Pro",
            "business_owner": "Dana",
            "risk_level": "extreme",
        },
    )
    assert refused.status_code == 422
    assert '<p class="field-error" id="title-error">Title is required</p>' in refused.text
    assert 'id="risk_level-error">choose one of: Not rated, Low, Medium, High, Critical' in (
        refused.text
    )
    assert 'value="Otter Pro"' in refused.text and 'value="Dana"' in refused.text
    assert "Otter Pro" not in client.get(location).text  # nothing was saved


def test_the_inventory_api_says_how_many_items_there_are(client: TestClient, app: FastAPI) -> None:
    _seed(app)
    sign_in(client, "viewer")
    page = client.get("/api/v1/inventory", params={"limit": 2})
    assert len(page.json()) == 2 and page.headers["x-total-count"] == "4"


def _prohibit(app: FastAPI, item_id: int) -> str:
    """Promote an item into an entry of its own and prohibit it, through the services."""
    from server.inventory import service as inventory_service
    from server.register import service as register_service
    from server.register.schemas import EntryInput

    with transaction(app.state.shadowmap.sessions) as session:
        entry = register_service.create_entry(
            session,
            actor="rita",
            fields=EntryInput(
                title="Deepseek use",
                ai_system="Deepseek Chat",
                business_owner="Dana",
                purpose="General use",
                risk_level="high",
            ),
        )
        inventory_service.transition_item(session, actor="rita", item_id=item_id, target="triaging")
        inventory_service.promote_item(
            session, actor="rita", item_id=item_id, existing_register_id=entry.register_id
        )
        decided = register_service.decide_entry(
            session,
            actor="carol",
            register_id=entry.register_id,
            expected_version=entry.version,
            decision="prohibited",
            rationale="sends data abroad",
        )
        return decided.register_id


def test_item_lists_show_filter_and_sort_on_the_register_status_and_hosts_count_it(
    client: TestClient, app: FastAPI
) -> None:
    items = _seed(app)
    _prohibit(app, items["Deepseek Chat"])
    sign_in(client, "viewer")
    listed = client.get("/inventory", params={"sort": "governed"}).text
    assert re.search(r"<th scope=\"col\" aria-sort=\"ascending\"><a [^>]+>Register status<", listed)
    assert _names(listed)[0] == "Deepseek Chat"  # the only governed item comes first
    assert listed.count('data-governed="prohibited"') == 1
    assert listed.count('data-governed=""') == len(SERVICES) - 1
    only = client.get("/inventory", params={"governed": "prohibited"}).text
    assert _names(only) == ["Deepseek Chat"] and "1 item" in only
    others = client.get("/inventory", params={"governed": "none", "sort": "name"}).text
    assert _names(others) == ["ChatGPT", "Claude", "GitHub Copilot"]
    bad = unescape(client.get("/triage", params={"governed": "bogus"}).text)
    assert "register status 'bogus' is not one of the choices" in bad
    # Hosts: per host, its items by register status (Deepseek Chat is on host-00..host-03).
    hosts = client.get("/hosts", params={"sort": "hostname"}).text
    rows = re.findall(r'<a href="/hosts/\d+">(host-\d+)</a>(.*?)</tr>', hosts, re.S)
    prohibited = {name for name, row in rows if "Prohibited 1" in row}
    assert prohibited == {"host-00", "host-01", "host-02", "host-03"}


def test_the_review_workflow_forms_confirm_their_save(client: TestClient, app: FastAPI) -> None:
    import datetime as dt

    from collector.store import register

    items = _seed(app, hosts=1)
    register_id = _prohibit(app, items["Deepseek Chat"])
    csrf = sign_in(client, "reviewer")
    with transaction(app.state.shadowmap.sessions) as session:
        version = register.get_register_entry(session, register_id=register_id).version
    day = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    saved = client.post(
        f"/register/{register_id}/next-review",
        data={"csrf": csrf, "version": version, "next_review_on": day},
    )
    assert saved.status_code == 200 and "Next review date saved." in saved.text
    assert saved.url.path == f"/register/{register_id}"


def test_a_prohibited_service_seen_again_scores_high_and_its_page_says_why(
    client: TestClient, app: FastAPI
) -> None:
    items = _seed(app)
    sign_in(client, "viewer")
    before = client.get(f"/inventory/{items['Deepseek Chat']}").text
    assert "in the register" not in before
    _prohibit(app, items["Deepseek Chat"])
    page = client.get(f"/inventory/{items['Deepseek Chat']}").text
    assert "prohibited in the register; no violation recorded" in page
    # host-00 reports it again: a violation, which the score counts.
    with transaction(app.state.shadowmap.sessions) as session:
        ingest_items(
            session, finding("deepseek-chat", indicator="deepseek-chat-p"), host="host-00",
            uid="agent-0000",
        )  # fmt: skip
    page = unescape(client.get(f"/inventory/{items['Deepseek Chat']}").text)
    card = page[page.index('id="risk-title"') : page.index("Evidence at a glance")]
    assert re.search(r"Risk score.*>10<.*of 10 \(high\)", card, re.S)
    assert (
        '<span class="pts">+7</span><span>prohibited in the register, yet still seen on hosts: '
        "a violation</span>" in card
    )
    assert "The factors add up to 12; the score stays within 1 to 10." in card
    by_risk = client.get("/inventory", params={"sort": "risk"}).text
    assert _names(by_risk)[0] == "Deepseek Chat"
