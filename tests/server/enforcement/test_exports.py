"""Enforcement exports served by the API: generated from the current register, versioned,
with an ETag and token scope; DNS names judged once (IDN, wildcards, trailing dots); an empty
register gives valid empty files; a name no tool could read refuses the export."""

from __future__ import annotations

import json
import plistlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.enforcement.formats import EXPORTS
from server.enforcement.policy import ExportRefused, dns_name
from tests.factories import finding
from tests.server.conftest import bearer, enroll, make_token
from tests.server.enforcement.seed import (
    ALTERNATIVE,
    CHATGPT_EXTENSION,
    MONICA,
    decide,
    seed_register,
)
from tests.server.seed import post_report


def _get(client: TestClient, token: str, name: str, **params: str) -> str:
    answer = client.get(f"/api/v1/enforcement/{name}", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.text


def test_every_export_follows_the_register(client: TestClient, app: FastAPI) -> None:
    seed_register(client, app)
    token = make_token(app, ["register:read"])

    zone = _get(client, token, "rpz")
    assert "chatgpt.com CNAME ." in zone and "*.chatgpt.com CNAME ." in zone
    assert "chat.openai.com CNAME ." in zone and "*.chat.openai.com" not in zone  # a host only
    assert "githubcopilot.com CNAME ." in zone and "llm-newco.io CNAME ." in zone
    assert "monica.im" not in zone  # approved
    assert f"use instead: {ALTERNATIVE}" in zone

    hosts = _get(client, token, "hosts")
    assert "0.0.0.0 chatgpt.com" in hosts and "0.0.0.0 chat.openai.com" in hosts
    squid = _get(client, token, "squid").splitlines()
    assert ".chatgpt.com" in squid and "chat.openai.com" in squid and ".monica.im" not in squid
    pac = _get(client, token, "pac")
    assert 'dnsDomainIs(host, ".chatgpt.com")) return "PROXY 127.0.0.1:9"' in pac
    assert pac.rstrip().endswith('return "DIRECT";\n}'.rstrip())

    chrome = json.loads(_get(client, token, "chrome-json"))
    assert chrome == {"ExtensionInstallBlocklist": [CHATGPT_EXTENSION]}
    allow = json.loads(_get(client, token, "chrome-json", mode="allowlist"))
    assert allow == {"ExtensionInstallBlocklist": ["*"], "ExtensionInstallAllowlist": [MONICA]}
    profile = plistlib.loads(_get(client, token, "chrome-mobileconfig").encode())
    domains = {payload["PayloadType"]: payload for payload in profile["PayloadContent"]}
    assert set(domains) == {"com.google.Chrome", "com.microsoft.Edge"}
    assert domains["com.microsoft.Edge"]["ExtensionInstallBlocklist"] == [CHATGPT_EXTENSION]
    reg = _get(client, token, "chrome-reg")
    assert reg.startswith("Windows Registry Editor Version 5.00\r\n")
    assert (
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge\\ExtensionInstallBlocklist]"
        f'\r\n"1"="{CHATGPT_EXTENSION}"'
    ) in reg
    firefox = json.loads(_get(client, token, "firefox", mode="allowlist"))
    assert firefox["policies"]["ExtensionSettings"] == {"*": {"installation_mode": "blocked"}}
    vscode = json.loads(_get(client, token, "vscode"))["extensions.allowed"]
    assert vscode == {"*": True, "github.copilot": False, "github.copilot-chat": False}


def test_exports_are_versioned_with_an_etag_and_need_the_register_scope(
    client: TestClient, app: FastAPI
) -> None:
    token = make_token(app, ["register:read"])
    empty = client.get("/api/v1/enforcement/rpz", headers=bearer(token))
    assert empty.status_code == 200
    assert "SOA" in empty.text and "CNAME" not in empty.text  # an empty register: a valid zone
    seed_register(client, app)
    first = client.get("/api/v1/enforcement/rpz", headers=bearer(token))
    etag, serial = first.headers["ETag"], int(first.headers["Shadowmap-Register-Serial"])
    assert first.headers["Shadowmap-Export-Version"] == "1"
    assert 'filename="shadowmap-ai.rpz.zone"' in first.headers["Content-Disposition"]
    assert f" {serial} 3600 600 86400 300" in first.text
    again = client.get("/api/v1/enforcement/rpz", headers={**bearer(token), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    # A new decision makes a new version.
    credential = enroll(client, app, agent_id="agent-0002", hostname="dev-2")
    post_report(
        client, credential, [finding("perplexity", indicator="perplexity")], hostname="dev-2"
    )
    decide(app, "svc:perplexity", "prohibited")
    changed = client.get(
        "/api/v1/enforcement/rpz", headers={**bearer(token), "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert int(changed.headers["Shadowmap-Register-Serial"]) >= serial
    assert "perplexity.ai CNAME ." in changed.text

    credential_token = make_token(app, ["inventory:read"])
    refused = client.get("/api/v1/enforcement/rpz", headers=bearer(credential_token))
    assert refused.status_code == 403
    assert client.get("/api/v1/enforcement/rpz").status_code == 401
    assert client.get("/api/v1/enforcement/nope", headers=bearer(token)).status_code == 422
    listed = client.get("/api/v1/enforcement", headers=bearer(token)).json()
    assert {row["name"] for row in listed} == set(EXPORTS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ChatGPT.com.", ("chatgpt.com", False)),
        ("*.Example.org", ("example.org", True)),
        ("bücher.example", ("xn--bcher-kva.example", False)),
        ("\uff21\uff29.example", ("ai.example", False)),  # full-width letters
    ],
)
def test_dns_names_are_put_in_the_form_resolvers_use(raw: str, expected: tuple[str, bool]) -> None:
    assert dns_name("AIR-2026-0001", raw) == expected


@pytest.mark.parametrize(
    "raw", ["under_score.example", "10.0.0.1", "localhost", "a..b", "*", "x" * 64 + ".com"]
)
def test_a_name_no_tool_could_read_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(ExportRefused, match="AIR-2026-0001"):
        dns_name("AIR-2026-0001", raw)


def test_a_pattern_no_name_list_can_hold_is_named_in_a_comment_not_dropped(
    client: TestClient, app: FastAPI
) -> None:
    credential = enroll(client, app, hostname="ml-1")
    post_report(client, credential, [finding("aws-bedrock", indicator="bedrock")], hostname="ml-1")
    decide(app, "svc:aws-bedrock", "prohibited")
    token = make_token(app, ["register:read"])
    for name, mark in (("rpz", ";"), ("hosts", "#"), ("squid", "#"), ("pac", "  //")):
        text = client.get(f"/api/v1/enforcement/{name}", headers=bearer(token)).text
        assert (
            f"{mark} not expressible as a name, enforce it by pattern: bedrock.*.amazonaws.com"
        ) in text
        assert "\nbedrock.*" not in text and "0.0.0.0 bedrock" not in text
