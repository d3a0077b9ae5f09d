"""The outbound client: every forbidden address class is refused after resolution, the
allow-list admits what it names (metadata only by its exact address), connections go to the
vetted address (no second lookup to rebind), redirects are vetted again, requests per
destination are bounded, and failures are described without network details. Real HTTP
receivers on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.config import ServerSettings, load_settings
from server.errors import DestinationRefused, SettingsError
from server.outbound.client import (
    OutboundTransport,
    backoff_delay,
    describe_failure,
    outbound_client,
)
from server.outbound.policy import (
    DOCUMENTED_URL,
    AllowList,
    DestinationPolicy,
    address_class,
    check_url_syntax,
)
from tests.server.receivers import Receiver


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("192.0.2.7", "documentation"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
        ("2001::1", "reserved"),  # Teredo
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("64:ff9b::808:808", None),  # NAT64 of a public address
    ],
)
def test_every_address_class_is_named(address: str, expected: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == expected


def fixed(answers: dict[str, list[str]], calls: list[str] | None = None) -> DestinationPolicy:
    """A policy over a resolver that knows only ``answers`` (and records each lookup)."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return DestinationPolicy(resolver=resolve)


def test_refusals_are_made_on_resolved_addresses() -> None:
    policy = fixed({"inside.test": ["10.0.0.8"], "mixed.test": ["8.8.8.8", "127.0.0.1"]})
    with pytest.raises(DestinationRefused) as refused:
        policy.resolve("inside.test", 80)
    assert refused.value.address_class == "private" and refused.value.address == "10.0.0.8"
    assert "10.0.0.8" not in str(refused.value) and "private" not in str(refused.value)
    # One internal answer among public ones: none of them is trusted.
    with pytest.raises(DestinationRefused, match="public address"):
        policy.resolve("mixed.test", 80)
    with pytest.raises(DestinationRefused) as unknown:
        policy.resolve("nowhere.test", 80)
    assert unknown.value.address_class == "unresolvable"
    assert fixed({"out.test": ["8.8.8.8"]}).resolve("out.test", 443) == [
        ipaddress.ip_address("8.8.8.8")
    ]


def test_the_system_resolver_reads_every_ipv4_spelling_and_localhost() -> None:
    policy = DestinationPolicy()
    for host in ("localhost", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "::1"):
        with pytest.raises(DestinationRefused) as refused:
            policy.resolve(host, 80)
        assert refused.value.address_class == "loopback", host


def test_the_allow_list_admits_networks_and_names_but_metadata_only_by_address() -> None:
    allow = AllowList.parse(" 127.0.0.1/32, 10.0.0.0/8 ,hooks.internal., fd00::/8,")
    assert allow.hosts == {"hooks.internal"}
    policy = DestinationPolicy(
        allow=allow, resolver=fixed({"hooks.internal": ["172.16.0.9"]}).resolver
    )
    assert [str(a) for a in policy.resolve("127.0.0.1", 80)] == ["127.0.0.1"]
    assert [str(a) for a in policy.resolve("HOOKS.internal", 80)] == ["172.16.0.9"]
    with pytest.raises(DestinationRefused):
        policy.resolve("127.0.0.2", 80)
    with pytest.raises(DestinationRefused):  # inside fd00::/8, but the AWS metadata address
        policy.resolve("fd00:ec2::254", 80)
    wide = DestinationPolicy(allow=AllowList.parse("169.254.0.0/16"))
    assert wide.resolve("169.254.1.1", 80)
    with pytest.raises(DestinationRefused) as refused:
        wide.resolve("169.254.169.254", 80)
    assert refused.value.address_class == "cloud metadata"
    exact = DestinationPolicy(allow=AllowList.parse("169.254.169.254/32"))
    assert exact.resolve("169.254.169.254", 80)


@pytest.mark.parametrize("entry", ["not a host", "http://x.example", "1.2.3.4/40", "a..b", "_x"])
def test_a_bad_allow_list_entry_stops_the_server_naming_the_setting(entry: str) -> None:
    with pytest.raises(SettingsError, match="outbound_allow"):
        load_settings(outbound_allow=f"127.0.0.1/32,{entry}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_the_connection_goes_to_the_vetted_address_without_a_second_lookup(
    receiver: Receiver,
) -> None:
    """ "hooks.test" exists only in the policy's resolver: reaching the receiver through it
    proves the connection is made to the address judged, with no lookup left to rebind."""
    calls: list[str] = []
    policy = DestinationPolicy(
        allow=AllowList.parse("127.0.0.1/32"),
        resolver=fixed({"hooks.test": ["127.0.0.1"]}, calls).resolver,
    )
    with httpx.Client(transport=OutboundTransport(policy), trust_env=False) as client:
        answer = client.post(f"http://hooks.test:{receiver.port}/hook", content=b"{}")
    assert answer.status_code == 200
    assert calls == ["hooks.test"]
    headers, _body = receiver.requests[0]
    assert headers["Host"] == f"hooks.test:{receiver.port}"
    assert str(answer.request.url).startswith("http://hooks.test:")  # not the pinned address

    strict = DestinationPolicy(resolver=fixed({"hooks.test": ["127.0.0.1"]}).resolver)
    with httpx.Client(transport=OutboundTransport(strict), trust_env=False) as client:
        with pytest.raises(DestinationRefused):
            client.post(f"http://hooks.test:{receiver.port}/hook", content=b"{}")
    assert len(receiver.requests) == 1


def test_names_in_the_allow_list_reach_loopback_and_nothing_else(receiver: Receiver) -> None:
    settings = ServerSettings(outbound_allow="localhost")
    with outbound_client(settings, timeout=5) as client:
        assert client.post(f"http://localhost:{receiver.port}/hook").status_code == 200
        with pytest.raises(DestinationRefused):
            client.post(f"http://127.0.0.1:{receiver.port}/hook")
        with pytest.raises(DestinationRefused):
            client.post(f"http://[::ffff:127.0.0.1]:{receiver.port}/hook")
    assert len(receiver.requests) == 1


def test_redirects_a_client_follows_are_vetted_again(receiver: Receiver) -> None:
    target = Receiver()
    try:
        receiver.status = 302
        receiver.location = f"http://127.0.0.1:{target.port}/internal"
        settings = ServerSettings(outbound_allow="localhost")
        with outbound_client(settings, timeout=5) as client:
            first = client.get(f"http://localhost:{receiver.port}/hook")
            assert first.status_code == 302  # not followed by default
            with pytest.raises(DestinationRefused):
                client.get(f"http://localhost:{receiver.port}/hook", follow_redirects=True)
        assert target.requests == []
    finally:
        target.close()


def test_requests_to_one_destination_are_bounded(receiver: Receiver) -> None:
    release = threading.Event()
    receiver.hold = release
    policy = DestinationPolicy(allow=AllowList.parse("127.0.0.1/32"))
    transport = OutboundTransport(policy, per_destination=2)
    answers: list[int] = []
    with httpx.Client(transport=transport, trust_env=False, timeout=20) as client:
        threads = [
            threading.Thread(target=lambda: answers.append(client.post(receiver.url).status_code))
            for _ in range(5)
        ]
        for thread in threads:
            thread.start()
        assert receiver.arrived.acquire(timeout=10) and receiver.arrived.acquire(timeout=10)
        time.sleep(0.5)
        assert len(receiver.requests) == 2  # the other three wait for a slot
        release.set()
        for thread in threads:
            thread.join(timeout=20)
    assert answers == [200] * 5


def test_failures_are_described_without_network_details() -> None:
    closed = Receiver()
    url = closed.url
    closed.close()
    settings = ServerSettings(outbound_allow="127.0.0.1/32")
    with outbound_client(settings, timeout=5) as client:
        with pytest.raises(httpx.ConnectError) as failed:
            client.post(url)
    assert describe_failure(failed.value) == "could not connect"
    assert describe_failure(httpx.ReadTimeout("read timed out after 10.0s")) == "timed out"
    refused = DestinationRefused("db.internal", "private", address="10.1.2.3")
    assert describe_failure(refused) == "destination refused: not a public address"


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    rng = random.Random(7)
    base, cap = dt.timedelta(seconds=1), dt.timedelta(seconds=60)
    for attempts, ceiling in ((1, 1), (3, 4), (6, 32), (7, 60), (30, 60)):
        waits = [backoff_delay(attempts, base=base, cap=cap, rng=rng) for _ in range(100)]
        assert all(ceiling / 2 <= wait.total_seconds() <= ceiling for wait in waits)
        assert max(waits) - min(waits) > dt.timedelta(seconds=ceiling / 4)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/in?x=1", None),
        ("http://intranet:8080/", None),
        ("http://[2001:db8::1]:8443/x", None),
        ("json", "must start with http:// or https://"),
        ("ftp://example.com/", "must start with http:// or https://"),
        ("https://user:pw@example.com/", "must not carry a user name or password"),
        ("https://example.com:0/", "has an invalid port"),
        ("https://example.com:99999/", "has an invalid port"),
        ("https://[2001:db8::g]/", "has an invalid IPv6 address"),
        ("https://-bad.example.com/", "must name a host"),
        ("https://exa mple.com/", "must be printable ASCII without spaces"),
    ],
)
def test_url_syntax_names_what_is_wrong(url: str, problem: str | None) -> None:
    if problem is None:
        assert check_url_syntax(url) == url
    else:
        with pytest.raises(ValueError, match=problem):
            check_url_syntax(url)


@given(st.from_regex(DOCUMENTED_URL, fullmatch=True))
def test_every_url_the_openapi_pattern_allows_passes_the_syntax_check(url: str) -> None:
    # The OpenAPI document promises this pattern for webhook URLs: schemathesis sent "json"
    # when there was none, and a client writing to the pattern must never be refused for syntax.
    assert check_url_syntax(url) == url
