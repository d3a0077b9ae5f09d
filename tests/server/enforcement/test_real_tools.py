"""The enforcement exports read by the real software they feed: the response-policy zone
loaded by Unbound in a network namespace (a prohibited name is refused, an approved one
resolves through the upstream), the dstdomain ACL accepted by `squid -k parse`, and the
Chromium policy read by real Chromium (chrome://policy shows it, and the extension it
refuses does not run)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.enforcement.formats import RPZ_ZONE
from signatures import FindingKind
from tests.factories import finding
from tests.server.conftest import bearer, enroll, make_token
from tests.server.enforcement.seed import ALTERNATIVE, decide, seed_register
from tests.server.seed import post_report

HERE = Path(__file__).resolve().parent


def _needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (scripts/system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _export(client: TestClient, app: FastAPI, name: str, tmp_path: Path, **params: str) -> Path:
    token = make_token(app, ["register:read"])
    answer = client.get(f"/api/v1/enforcement/{name}", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    path = tmp_path / f"{name}-{params.get('mode', 'blocklist')}"
    path.write_bytes(answer.content)
    return path


@pytest.fixture
def namespace() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    _needs("ip", "unbound", "dnsmasq")
    name = f"sm-rpz-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


_RESOLVE = textwrap.dedent(
    """
    import json, sys, time
    import dns.exception, dns.resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = 5300
    resolver.lifetime = 3
    answers = {}
    for name in sys.argv[1:]:
        for attempt in range(40):
            try:
                answers[name] = sorted(r.address for r in resolver.resolve(name, "A"))
                break
            except dns.resolver.NXDOMAIN:
                answers[name] = "NXDOMAIN"
                break
            except (dns.exception.Timeout, dns.resolver.NoNameservers, OSError):
                time.sleep(0.25)  # the resolver is still starting
        else:
            answers[name] = "NO ANSWER"
    print(json.dumps(answers))
    """
)


@pytest.mark.netns
@pytest.mark.slow
def test_the_rpz_zone_makes_a_real_unbound_refuse_prohibited_names(
    client: TestClient, app: FastAPI, tmp_path: Path, namespace: str
) -> None:
    seed_register(client, app)
    zone = _export(client, app, "rpz", tmp_path)
    config = tmp_path / "unbound.conf"
    config.write_text(
        textwrap.dedent(
            f"""
            server:
                interface: 127.0.0.1
                port: 5300
                do-daemonize: no
                username: ""
                chroot: ""
                directory: "{tmp_path}"
                pidfile: "{tmp_path}/unbound.pid"
                use-syslog: no
                do-ip6: no
                access-control: 127.0.0.0/8 allow
                do-not-query-localhost: no
                module-config: "respip iterator"
            forward-zone:
                name: "."
                forward-addr: 127.0.0.1@5353
            rpz:
                name: "{RPZ_ZONE}"
                zonefile: "{zone}"
                rpz-log: yes
            """
        )
    )
    checked = subprocess.run(["unbound-checkconf", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    upstream = subprocess.Popen(
        [
            "ip", "netns", "exec", namespace, "dnsmasq", "--no-daemon", "--no-resolv",
            "--no-hosts", "--port=5353", "--listen-address=127.0.0.1", "--bind-interfaces",
            # The upstream knows every name; only the policy zone can refuse one.
            "--address=/chatgpt.com/192.0.2.20", "--address=/openai.com/192.0.2.21",
            "--address=/llm-newco.io/192.0.2.22", "--address=/monica.im/192.0.2.10",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    resolver = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "unbound", "-d", "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        names = ["chatgpt.com", "www.chatgpt.com", "chat.openai.com", "api.llm-newco.io"]
        answered = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", _RESOLVE, *names,
             "monica.im", "openai.com"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        answers = json.loads(answered.stdout)
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
        resolver.terminate()
        log, _ = resolver.communicate(timeout=10)
    assert {name: answers[name] for name in names} == dict.fromkeys(names, "NXDOMAIN"), log
    assert answers["monica.im"] == ["192.0.2.10"]  # approved: resolved through the upstream
    assert answers["openai.com"] == ["192.0.2.21"]  # only chat.openai.com is prohibited


@pytest.mark.slow
def test_squid_accepts_the_dstdomain_acl(client: TestClient, app: FastAPI, tmp_path: Path) -> None:
    _needs("squid")
    seed_register(client, app)
    acl = _export(client, app, "squid", tmp_path)
    config = tmp_path / "squid.conf"
    config.write_text(
        f'http_port 127.0.0.1:3999\nacl ai_prohibited dstdomain "{acl}"\n'
        "http_access deny ai_prohibited\nhttp_access deny all\n"
        f"pid_filename {tmp_path}/squid.pid\ncache_log {tmp_path}/cache.log\n"
        "access_log none\n"
    )
    parsed = subprocess.run(
        ["squid", "-k", "parse", "-f", str(config)], capture_output=True, text=True, timeout=60
    )
    output = parsed.stdout + parsed.stderr
    assert parsed.returncode == 0, output
    assert "ERROR" not in output and "FATAL" not in output, output
    assert "WARNING" not in output, output  # no duplicate or overlapping domains
    assert f"use instead: {ALTERNATIVE}" in acl.read_text()

    assert f'Processing: acl ai_prohibited dstdomain "{acl}"' in output

    config.write_text(config.read_text().replace(str(acl), str(tmp_path / "missing.acl")))
    refused = subprocess.run(
        ["squid", "-k", "parse", "-f", str(config)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 or "ERROR" in refused.stdout + refused.stderr  # can fail


def _unpacked_extension(folder: Path) -> str:
    """Lay out a minimal MV3 extension; return the id Chromium gives it (from its path)."""
    folder.mkdir()
    manifest = {
        "manifest_version": 3,
        "name": "Unknown AI helper",
        "version": "1.0",
        "background": {"service_worker": "worker.js"},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "worker.js").write_text("self.addEventListener('install', () => {});\n")
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(char, 16)) for char in digest)


def _chromium_with(policy: Path, extension: Path, profile: Path) -> dict[str, list[str]]:
    """Run real Chromium with ``policy`` installed as managed policy, in a private mount
    namespace (the host's /etc/chromium is left alone); return what it shows."""
    probe = subprocess.run(
        [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs /etc/chromium && exec "$0" "$@"',
            sys.executable, str(HERE / "chromium_policy_probe.py"),
            str(policy), str(extension), str(profile),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout + probe.stderr
    shown: dict[str, list[str]] = json.loads(probe.stdout.strip().splitlines()[-1])
    return shown


@pytest.mark.browser
@pytest.mark.slow
def test_real_chromium_reads_the_policy_and_refuses_the_blocklisted_extension(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root")
    _needs("unshare", "chromium")
    pytest.importorskip("playwright.sync_api")
    extension = tmp_path / "unknown-ai-helper"
    extension_id = _unpacked_extension(extension)
    # Before any decision, the unknown extension an agent reported runs.
    seed_register(client, app)
    allowed = _chromium_with(
        _export(client, app, "chrome-json", tmp_path), extension, tmp_path / "p1"
    )
    assert extension_id in allowed["extensions"]
    assert any("ExtensionInstallBlocklist" in row for row in allowed["policy_rows"])

    credential = enroll(client, app, agent_id="agent-0009", hostname="dev-9")
    unknown = finding(
        None,
        kind=FindingKind.BROWSER_EXTENSION,
        indicator=extension_id,
        indicator_kind="browser_extension",
        heuristic="extension-name-token:ai",
    )
    post_report(client, credential, [unknown], hostname="dev-9")
    decide(app, f"cand:browser_extension:{extension_id}", "prohibited")
    policy = _export(client, app, "chrome-json", tmp_path)
    assert extension_id in json.loads(policy.read_text())["ExtensionInstallBlocklist"]
    refused = _chromium_with(policy, extension, tmp_path / "p2")
    assert extension_id not in refused["extensions"]
    rows = [row for row in refused["policy_rows"] if "ExtensionInstallBlocklist" in row]
    assert rows and extension_id in rows[0] and "Status OK" in rows[0]
