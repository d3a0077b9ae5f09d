"""The DNS parser: names, answers, rendering, and the non-standard-port heuristic."""

from __future__ import annotations

import struct

from agent.network.dns import (
    NAME_TOO_LONG,
    ROOT_NAME,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    looks_like_dns_query,
    parse_answers,
    parse_message,
    render_name,
)
from tests.packets import dns_query, dns_response


def test_query_names_and_types() -> None:
    parsed = parse_message(dns_query("ChatGPT.com", ident=9, qtype=28))
    assert parsed is not None and not parsed.response and parsed.ident == 9
    assert parsed.questions == [("ChatGPT.com", 28)]  # case is kept, as tshark shows it


def test_root_and_too_long_names() -> None:
    header = struct.pack("!HHHHHH", 1, 0, 2, 0, 0, 0)
    long_name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"b" * 61 + b"\x00"  # 253 characters
    parsed = parse_message(header + b"\x00\x00\x01\x00\x01" + long_name + b"\x00\x01\x00\x01")
    assert parsed is not None
    assert parsed.questions[0][0] == ROOT_NAME
    assert len(parsed.questions[1][0]) == 253
    longer = (b"\x3f" + b"a" * 63) * 4 + b"\x00"
    assert (
        parse_message(header[:5] + b"\x01" + header[6:] + longer + b"\x00\x01\x00\x01").questions[
            0
        ][0]
        == NAME_TOO_LONG
    )  # type: ignore[union-attr]


def test_rendering_follows_tshark() -> None:
    assert render_name(b"plain.example") == "plain.example"
    assert render_name(b"tab\there") == "tab\\there"
    assert render_name(b"\x01\x7f") == "\\001\\177"
    assert render_name(b"caf\xc3\xa9") == "café"
    assert render_name(b"\xff") == "\ufffd"
    assert render_name(b"\xe2\x80\x8b") == "\\u200B"  # a format character
    assert render_name(b"") == ROOT_NAME


def test_answers_with_cname_chain() -> None:
    response = dns_response(
        "chatgpt.com",
        ["104.18.32.47", "2606:4700::6812:202f"],
        cname="chatgpt.com.cdn.cloudflare.net",
        ttl=120,
    )
    parsed = parse_message(response)
    assert parsed is not None and parsed.response
    answers = parse_answers(response)
    assert [(answer.rtype, answer.value) for answer in answers] == [
        (TYPE_CNAME, "chatgpt.com.cdn.cloudflare.net"),
        (TYPE_A, "104.18.32.47"),
        (TYPE_AAAA, "2606:4700::6812:202f"),
    ]
    assert all(answer.ttl == 120 for answer in answers)


def test_heuristic_for_odd_ports_takes_plain_queries_only() -> None:
    assert looks_like_dns_query(dns_query("www.example.com"))
    assert not looks_like_dns_query(dns_response("www.example.com", ["192.0.2.1"]))
    assert not looks_like_dns_query(b"\x00" * 40)
    assert not looks_like_dns_query(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
