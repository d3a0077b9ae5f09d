"""Connections to AI endpoints: TTL-cached resolution (local resolver only), real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from agent.addressbook import AddressBook, catalogue_hosts, dns_resolve
from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.connections import ConnectionScanner
from signatures import Matcher, load_catalogue
from tests.agent.scanners.helpers import run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_address_book_caches_by_ttl_and_remembers_failures() -> None:
    calls: list[str] = []

    def resolve(name: str) -> tuple[list[str], int]:
        calls.append(name)
        if name == "down.example.test":
            raise LookupError(name)
        return ["203.0.113.7"], 120

    clock = Clock()
    book = AddressBook(
        names=("api.example.test", "down.example.test"), resolve=resolve, clock=clock
    )
    assert book.refresh() == ["down.example.test"]
    assert book.index() == {"203.0.113.7": "api.example.test"}
    clock.now += 100
    assert book.refresh() == []  # both answers still fresh (the failure for 300 s)
    assert calls == ["api.example.test", "down.example.test"]
    clock.now += 30
    book.refresh()
    assert calls == ["api.example.test", "down.example.test", "api.example.test"]


@pytest.fixture
def local_dns() -> Iterator[int]:
    """A one-zone DNS server on 127.0.0.1 built from dnspython messages."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text()
            if name == "api.example.test." and question.rdtype == 1:  # A
                response.answer.append(dns.rrset.from_text(name, 42, "IN", "A", "203.0.113.9"))
            elif name != "api.example.test.":
                response.set_rcode(3)  # NXDOMAIN
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


def test_dns_resolve_against_a_local_resolver(local_dns: int) -> None:
    addresses, ttl = dns_resolve("api.example.test", nameservers=["127.0.0.1"], port=local_dns)
    assert addresses == ["203.0.113.9"]
    assert ttl == 42
    assert dns_resolve("nothing.example.test", nameservers=["127.0.0.1"], port=local_dns) == (
        [],
        300,
    )


def test_connection_to_a_catalogue_host_is_matched(connected: int, tmp_path: Path) -> None:
    def resolve(name: str) -> tuple[list[str], int]:
        return (["127.0.0.1"] if name == "api.openai.com" else []), 300

    catalogue = load_catalogue()
    assert "api.openai.com" in catalogue_hosts(catalogue)
    book = AddressBook(["api.openai.com", "chatgpt.com"], resolve=resolve)
    scanner = ConnectionScanner(book, public_only=False)
    observations, errors = run(scanner, ScanContext())
    assert errors == []
    ours = [o for o in observations if o.evidence["remote_port"] == connected]
    assert len(ours) == 1
    assert ours[0].indicator == "api.openai.com"
    assert ours[0].hints["remote_hosts"] == ["api.openai.com"]
    assert ours[0].evidence["process"] is not None

    # Every loopback connection on the host now "is" api.openai.com, and the runner merges
    # them into one finding per process owner: look for the service, not for our port.
    result = run_scan(ScanContext(), (scanner,), Matcher(catalogue))
    assert ("openai-api", "connection", "api.openai.com") in {
        (f.service_id, f.kind.value, f.indicator) for f in result.findings
    }


def test_loopback_and_private_peers_are_ignored_by_default(connected: int) -> None:
    observations, errors = run(ConnectionScanner(), ScanContext())
    assert errors == []
    assert all(o.evidence["remote_port"] != connected for o in observations)
