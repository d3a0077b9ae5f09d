"""End to end in two network namespaces: a real DNS server, real queries, a real TLS client.

Traffic stays inside namespaces this test creates (10.200.77.0/24 on a veth pair) and both
namespaces are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVER_IP, CLIENT_IP = "10.200.77.1", "10.200.77.2"
AI_NAMES = ["chatgpt.com", "api.anthropic.com"]
OTHER_NAMES = ["www.example.org", "intranet.example.com"]

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def _netns_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "`ip netns` is not available here"
    if shutil.which("dnsmasq") is None:
        return "dnsmasq is not installed (apt-get install dnsmasq-base)"
    return None


@dataclass
class Namespaces:
    server: str
    client: str
    client_if: str

    def run(self, namespace: str, *command: str, **kwargs: object) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", namespace, *command], text=True, **kwargs)  # type: ignore[call-overload]


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    reason = _netns_available()
    if reason:
        pytest.skip(reason)
    tag = f"{os.getpid() % 100000}"
    server, client = f"smsrv{tag}", f"smcli{tag}"
    server_if, client_if = f"vs{tag}", f"vc{tag}"
    steps = [
        ["ip", "netns", "add", server],
        ["ip", "netns", "add", client],
        ["ip", "link", "add", server_if, "type", "veth", "peer", "name", client_if],
        ["ip", "link", "set", server_if, "netns", server],
        ["ip", "link", "set", client_if, "netns", client],
        ["ip", "-n", server, "addr", "add", f"{SERVER_IP}/24", "dev", server_if],
        ["ip", "-n", client, "addr", "add", f"{CLIENT_IP}/24", "dev", client_if],
        ["ip", "-n", server, "link", "set", server_if, "up"],
        ["ip", "-n", client, "link", "set", client_if, "up"],
        ["ip", "-n", server, "link", "set", "lo", "up"],
        ["ip", "-n", client, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        yield Namespaces(server=server, client=client, client_if=client_if)
    finally:
        for namespace in (client, server):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


_TLS_LISTENER = f"""
import socket, time
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(({SERVER_IP!r}, 443))
listener.listen(4)
print("listening", flush=True)
listener.settimeout(20)
connection, _ = listener.accept()
connection.recv(65535)
time.sleep(1)
"""

_CLIENT = f"""
import socket, ssl, dns.resolver
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [{SERVER_IP!r}]
resolver.lifetime = 3
for name in {AI_NAMES + OTHER_NAMES!r}:
    print(name, [answer.address for answer in resolver.resolve(name, "A")], flush=True)
context = ssl.create_default_context()
raw = socket.create_connection(({SERVER_IP!r}, 443), timeout=3)
try:
    context.wrap_socket(raw, server_hostname="api.anthropic.com")
except (OSError, ssl.SSLError) as exc:
    print("tls ended:", type(exc).__name__, flush=True)
"""


def test_capture_in_a_namespace_reports_exactly_the_ai_names(namespaces: Namespaces) -> None:
    records = [f"--address=/{name}/{SERVER_IP}" for name in AI_NAMES + OTHER_NAMES]
    dnsmasq = namespaces.run(
        namespaces.server,
        "dnsmasq",
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--conf-file=/dev/null",
        "--bind-interfaces",
        f"--listen-address={SERVER_IP}",
        "--pid-file=",
        *records,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    listener = namespaces.run(
        namespaces.server,
        sys.executable,
        "-c",
        _TLS_LISTENER,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    capture = namespaces.run(
        namespaces.client,
        sys.executable,
        "-m",
        "agent.network.capture",
        "--interface",
        namespaces.client_if,
        "--seconds",
        "8",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert capture.stdout is not None and listener.stdout is not None
        assert capture.stdout.readline().strip() == "ready", capture.stderr
        assert listener.stdout.readline().strip() == "listening"
        time.sleep(0.5)  # let dnsmasq bind
        client = subprocess.run(
            ["ip", "netns", "exec", namespaces.client, sys.executable, "-c", _CLIENT],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert client.returncode == 0, client.stderr
        assert f"chatgpt.com ['{SERVER_IP}']" in client.stdout
        output, errors = capture.communicate(timeout=30)
    finally:
        for process in (capture, listener, dnsmasq):
            if process.poll() is None:
                process.kill()
            process.communicate()
    document = json.loads(output.strip().splitlines()[-1])
    dns = {item["indicator"]: item for item in document["findings"] if item["kind"] == "dns"}
    sni = {item["indicator"]: item for item in document["findings"] if item["kind"] == "sni"}
    assert set(dns) == set(AI_NAMES), errors
    assert dns["chatgpt.com"]["service_id"] == "openai-chatgpt"
    assert dns["chatgpt.com"]["evidence"]["addresses"] == [SERVER_IP]
    assert set(sni) == {"api.anthropic.com"}
    assert sni["api.anthropic.com"]["evidence"]["servers"] == [SERVER_IP]
    assert "example" not in json.dumps(document["findings"])
