"""The kernel filter lets DNS and ClientHellos through and nothing else."""

from __future__ import annotations

import pytest

from agent.network.bpf import compile_filter
from tests.agent.network.bpf_vm import run
from tests.packets import (
    client_hello,
    dns_query,
    dns_response,
    quic_initials,
    tcp,
    tls_record,
    udp,
)


@pytest.fixture(scope="module")
def program() -> list[tuple[int, int, int, int]]:
    return compile_filter()


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_filter_verdicts(program: list[tuple[int, int, int, int]], v6: bool) -> None:
    ends = {"src": "fd00::1", "dst": "fd00::2"} if v6 else {"src": "10.0.0.1", "dst": "10.0.0.2"}
    hello = tls_record(client_hello("chatgpt.com"))
    initial = quic_initials(client_hello("chatgpt.com"), dcid=b"\x07" * 8)[0]
    passes = {
        "udp query": udp(dns_query("a.example"), 40000, 53, **ends),
        "udp response": udp(dns_response("a.example", ["192.0.2.1"]), 53, 40000, **ends),
        "tcp dns": tcp(b"\x00\x1d" + dns_query("a.example"), 40000, 53, **ends),
        "client hello": tcp(hello, 40000, 443, **ends),
        "quic initial": udp(initial, 40000, 443, **ends),
    }
    blocked = {
        "https data": tcp(b"\x17\x03\x03\x00\x20" + bytes(32), 40000, 443, **ends),
        "https ack": tcp(b"", 40000, 443, flags=0x10, **ends),
        "server hello back": tcp(hello, 443, 40000, **ends),
        "quic short header": udp(b"\x41" + bytes(40), 40000, 443, **ends),
        "http": tcp(b"GET / HTTP/1.1\r\n\r\n", 40000, 80, **ends),
        "ntp": udp(bytes(48), 123, 123, **ends),
    }
    for name, packet in passes.items():
        assert run(program, packet) > 0, name
    for name, packet in blocked.items():
        assert run(program, packet) == 0, name


def test_a_filter_libpcap_rejects_is_named_in_a_clear_error() -> None:
    from agent.network.errors import CaptureUnavailable

    with pytest.raises(CaptureUnavailable, match=r"libpcap rejected the capture filter: \S"):
        compile_filter("udp port banana")
