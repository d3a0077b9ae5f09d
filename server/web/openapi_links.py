"""What the OpenAPI document says beyond the routes: the links from one operation's answer to
the next operation's parameters (a client, and schemathesis' stateful run, follow them), and
the error answers every operation of a kind can give. One table, applied once to the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI


@dataclass(frozen=True, slots=True)
class Link:
    """``source`` ("METHOD /path") answering ``status`` feeds ``target``'s ``parameters``
    (runtime expressions such as ``$response.body#/0/id``, or constants)."""

    source: str
    status: str
    target: str
    parameters: Mapping[str, str]
    # Fields of the target's JSON body taken from the answer (merged into the body).
    request_body: Mapping[str, str] | None = None


def _links() -> tuple[Link, ...]:
    first = "$response.body#/0/id"
    made = "$response.body#/id"
    agent = "/api/v1/agents/{agent_number}"
    host = "/api/v1/hosts/{host_id}"
    item = "/api/v1/inventory/{item_id}"
    entry = "/api/v1/register/{register_id}"
    run = "/api/v1/reports/{run_id}"
    policy = "/api/v1/policies/{policy_id}"
    route = "/api/v1/approval-routes/{route_id}"
    template_put = "PUT /api/v1/assessment-templates/{kind}"
    kind = "$request.path.kind"
    return (
        # Agents and hosts
        Link("GET /api/v1/agents", "200", f"GET {agent}", {"agent_number": first}),
        Link("GET /api/v1/agents", "200", f"POST {agent}/revoke", {"agent_number": first}),
        Link(
            "GET /api/v1/agents",
            "200",
            f"POST {agent}/approve-reenrollment",
            {"agent_number": first},
        ),
        Link(f"GET {agent}", "200", f"GET {host}", {"host_id": "$response.body#/host_id"}),
        Link(
            f"POST {agent}/revoke",
            "200",
            f"POST {agent}/approve-reenrollment",
            {"agent_number": made},
        ),
        Link(f"POST {agent}/approve-reenrollment", "200", f"GET {agent}", {"agent_number": made}),
        Link("GET /api/v1/hosts", "200", f"GET {host}", {"host_id": first}),
        Link("GET /api/v1/hosts", "200", f"PATCH {host}", {"host_id": first}),
        Link(f"PATCH {host}", "200", f"GET {host}", {"host_id": made}),
        Link(
            f"GET {host}", "200", f"GET {item}", {"item_id": "$response.body#/sightings/0/item_id"}
        ),
        # Inventory
        Link("GET /api/v1/inventory", "200", f"GET {item}", {"item_id": first}),
        Link("GET /api/v1/inventory", "200", f"GET {item}/sightings", {"item_id": first}),
        Link("GET /api/v1/inventory", "200", "GET /api/v1/exports/inventory.{fmt}", {"fmt": "csv"}),
        Link("GET /api/v1/inventory", "200", "GET /api/v1/exports/evidence-pack.zip", {}),
        Link(f"GET {item}", "200", f"GET {item}/sightings", {"item_id": "$request.path.item_id"}),
        Link(
            f"GET {item}/sightings", "200", f"GET {host}", {"host_id": "$response.body#/0/host_id"}
        ),
        Link(
            "GET /api/v1/sync/inventory",
            "200",
            "GET /api/v1/sync/inventory",
            {"cursor": "$response.body#/next_cursor"},
        ),
        # Register
        Link(
            "GET /api/v1/register",
            "200",
            f"GET {entry}",
            {"register_id": "$response.body#/0/register_id"},
        ),
        Link(
            "POST /api/v1/register",
            "201",
            f"GET {entry}",
            {"register_id": "$response.body#/register_id"},
        ),
        Link(
            "POST /api/v1/register",
            "201",
            f"PATCH {entry}",
            {"register_id": "$response.body#/register_id"},
        ),
        Link(
            "POST /api/v1/register",
            "201",
            "GET /api/v1/audit",
            {"object_type": "entry", "object_id": "$response.body#/register_id"},
        ),
        Link("POST /api/v1/register", "201", "GET /api/v1/reviews", {}),
        Link("POST /api/v1/register", "201", "GET /api/v1/suppliers", {}),
        Link("POST /api/v1/register", "201", "GET /api/v1/exports/register.{fmt}", {"fmt": "csv"}),
        Link(
            f"GET {entry}",
            "200",
            f"PATCH {entry}",
            {"register_id": "$request.path.register_id"},
            {"version": "$response.body#/version"},
        ),
        Link(
            "GET /api/v1/sync/register",
            "200",
            "GET /api/v1/sync/register",
            {"cursor": "$response.body#/next_cursor"},
        ),
        # API tokens
        Link("GET /api/v1/tokens", "200", "DELETE /api/v1/tokens/{token_id}", {"token_id": first}),
        Link("POST /api/v1/tokens", "201", "DELETE /api/v1/tokens/{token_id}", {"token_id": made}),
        Link("DELETE /api/v1/tokens/{token_id}", "200", "GET /api/v1/tokens", {}),
        # Scheduled reports
        Link("GET /api/v1/reports", "200", f"GET {run}", {"run_id": first}),
        Link("POST /api/v1/reports/{name}/run", "201", f"GET {run}", {"run_id": made}),
        Link(
            "POST /api/v1/reports/{name}/run",
            "201",
            f"GET {run}/files/{{fmt}}",
            {"run_id": made, "fmt": "csv"},
        ),
        # Webhooks
        Link(
            "GET /api/v1/webhooks",
            "200",
            "DELETE /api/v1/webhooks/{webhook_id}",
            {"webhook_id": first},
        ),
        Link(
            "POST /api/v1/webhooks",
            "201",
            "DELETE /api/v1/webhooks/{webhook_id}",
            {"webhook_id": made},
        ),
        Link(
            "POST /api/v1/webhooks",
            "201",
            "GET /api/v1/webhooks/deliveries",
            {"webhook_id": made},
        ),
        # The AI management system
        Link("GET /api/v1/scope", "200", "POST /api/v1/scope", {}),
        Link("POST /api/v1/scope", "201", "GET /api/v1/scope", {}),
        Link("POST /api/v1/people/import", "200", "GET /api/v1/people", {}),
        Link("POST /api/v1/policies", "201", f"POST {policy}/publish", {"policy_id": made}),
        Link("GET /api/v1/policies", "200", f"POST {policy}/publish", {"policy_id": first}),
        Link(f"POST {policy}/publish", "200", f"POST {policy}/acknowledge", {"policy_id": made}),
        Link(f"POST {policy}/publish", "200", f"GET {policy}/coverage", {"policy_id": made}),
        Link(f"POST {policy}/publish", "200", f"POST {policy}/reminders", {"policy_id": made}),
        Link("GET /api/v1/approval-routes", "200", f"PUT {route}", {"route_id": first}),
        Link("POST /api/v1/approval-routes", "201", f"PUT {route}", {"route_id": made}),
        Link(
            "POST /api/v1/register",
            "201",
            f"GET {entry}/route",
            {"register_id": "$response.body#/register_id"},
        ),
        Link(
            "POST /api/v1/register",
            "201",
            f"POST {entry}/signoffs",
            {"register_id": "$response.body#/register_id"},
        ),
        Link(
            "POST /api/v1/register",
            "201",
            "POST /api/v1/assessments",
            {},
            {"register_id": "$response.body#/register_id"},
        ),
        Link("POST /api/v1/assessments", "201", "GET /api/v1/assessments", {}),
        Link("GET /api/v1/assessment-templates/{kind}", "200", template_put, {"kind": kind}),
        Link(template_put, "200", "GET /api/v1/assessment-templates/{kind}", {"kind": kind}),
        Link(
            "POST /api/v1/incidents",
            "201",
            "POST /api/v1/incidents/{incident_id}/close",
            {"incident_id": "$response.body#/incident_id"},
        ),
        Link(
            "GET /api/v1/incidents",
            "200",
            "POST /api/v1/incidents/{incident_id}/close",
            {"incident_id": "$response.body#/0/incident_id"},
        ),
        Link("POST /api/v1/training", "201", "GET /api/v1/training", {}),
        Link(
            "GET /api/v1/soa",
            "200",
            "PUT /api/v1/soa/{control_id}",
            {"control_id": "$response.body#/0/control_id"},
        ),
        Link(
            "GET /api/v1/objectives",
            "200",
            "PUT /api/v1/objectives/{measure}",
            {"measure": "$response.body#/0/measure"},
        ),
        Link("PUT /api/v1/objectives/{measure}", "204", "POST /api/v1/objectives/measurements", {}),
        Link(
            "POST /api/v1/objectives/measurements",
            "201",
            "GET /api/v1/management-review.{fmt}",
            {"fmt": "html"},
        ),
        # Email notifications
        Link(
            "GET /api/v1/notifications/subscriptions",
            "200",
            "DELETE /api/v1/notifications/subscriptions/{subscription_id}",
            {"subscription_id": first},
        ),
        Link(
            "POST /api/v1/notifications/subscriptions",
            "201",
            "DELETE /api/v1/notifications/subscriptions/{subscription_id}",
            {"subscription_id": made},
        ),
        Link(
            "POST /api/v1/notifications/subscriptions",
            "201",
            "GET /api/v1/notifications/emails",
            {},
        ),
        # Enforcement exports
        Link(
            "GET /api/v1/enforcement",
            "200",
            "GET /api/v1/enforcement/{name}",
            {"name": "$response.body#/0/name"},
        ),
        Link("POST /api/v1/register", "201", "GET /api/v1/enforcement", {}),
        # Agents' own protocol
        Link("POST /api/v1/agents/enroll", "200", "POST /api/v1/agents/reports", {}),
        Link("POST /api/v1/agents/enroll", "200", "GET /api/v1/agents/config", {}),
        Link("POST /api/v1/agents/enroll", "200", "GET /api/v1/agents/signatures", {}),
        Link("POST /api/v1/agents/enroll", "200", "GET /api/v1/agents/update", {}),
        Link(
            "GET /api/v1/agents/update",
            "200",
            "GET /api/v1/agents/update/package/{release_id}",
            {"release_id": "$response.body#/release_id"},
        ),
        Link("GET /api/v1/agents/update", "200", "POST /api/v1/agents/update/outcome", {}),
    )


LINKS = _links()

#: Error answers documented on every operation they can come from.
_STORAGE_REFUSED = {
    "description": "A value cannot be stored or used (e.g. a NUL character on PostgreSQL)"
}
_TOO_LARGE = {"description": "The request body is larger than api_max_body_bytes"}
_NO_AGENT_CREDENTIAL = {"description": "No valid agent credential"}


def _operation_ids(document: dict[str, Any]) -> dict[str, str]:
    return {
        f"{method.upper()} {path}": operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def _is_agent_protocol(path: str) -> bool:
    """The agents' own endpoints (enrollment, reports, configuration, signatures, updates)."""
    own = path.startswith("/api/v1/agents/") and path.count("/") == 4 and "{" not in path
    return own or path.startswith("/api/v1/agents/update/")


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the links and the shared error answers to an OpenAPI document (in place)."""
    ids = _operation_ids(document)
    for link in LINKS:
        method, path = link.source.split(" ", 1)
        response = document["paths"][path][method.lower()]["responses"][link.status]
        name = ids[link.target].removesuffix("_" + link.target.split(" ", 1)[0].lower())
        definition: dict[str, Any] = {
            "operationId": ids[link.target],
            "parameters": dict(link.parameters),
        }
        if link.request_body is not None:
            definition["requestBody"] = dict(link.request_body)
        response.setdefault("links", {})[name] = definition
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if _is_agent_protocol(path):
                # The agents' own endpoints (enroll excepted) take the agent credential.
                if not path.endswith("/enroll"):
                    responses.setdefault("401", _NO_AGENT_CREDENTIAL)
                continue
            if "401" in responses:
                responses.setdefault("400", _STORAGE_REFUSED)
            if "requestBody" in operation or method in ("post", "patch", "put"):
                responses.setdefault("413", _TOO_LARGE)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
