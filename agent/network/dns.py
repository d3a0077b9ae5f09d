"""A small, strict DNS message parser: question names, and answer addresses on demand.

Names are rendered the way tshark shows ``dns.qry.name`` (so captures can be checked against
it): printable ASCII as is, C0 controls as C escapes or ``\\ooo`` octal, valid UTF-8 kept,
non-printable code points as ``\\uXXXX``, invalid sequences as U+FFFD, the root as ``<Root>``.
Malformed or truncated input ends parsing early; it never raises out of this module.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28

ROOT_NAME = "<Root>"
MAX_POINTER_JUMPS = 64
MAX_RECORDS = 256  # answers parsed per message; a response needs far fewer

_ODD_BYTES = re.compile(rb"[^\x20-\x7e]")
_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
_NOT_PRINTABLE = frozenset(("Cc", "Cf", "Cn", "Cs"))


class Malformed(Exception):
    """Internal: the message ends or loops where a name or record should be."""


@dataclass(slots=True)
class DnsMessage:
    """The parts of a DNS message network discovery uses."""

    ident: int
    response: bool
    opcode: int
    rcode: int
    questions: list[tuple[str, int]] = field(default_factory=list)  # (name, qtype)
    complete: bool = True  # False when the question section ended early


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer record: an address or an alias for ``name``."""

    name: str
    rtype: int
    ttl: int
    value: str


def parse_message(message: bytes) -> DnsMessage | None:
    """Parse a DNS header and its question section; None when there is no header."""
    if len(message) < 12:
        return None
    flags = (message[2] << 8) | message[3]
    count = (message[4] << 8) | message[5]
    parsed = DnsMessage(
        ident=(message[0] << 8) | message[1],
        response=bool(flags & 0x8000),
        opcode=(flags >> 11) & 0xF,
        rcode=flags & 0xF,
    )
    offset = 12
    questions = parsed.questions
    for _ in range(count):
        try:
            raw, offset = read_name(message, offset)
        except Malformed:
            parsed.complete = False
            break
        qtype = -1
        if offset + 4 <= len(message):
            qtype = (message[offset] << 8) | message[offset + 1]
        questions.append((render_name(raw), qtype))
        offset += 4
        if offset > len(message):
            parsed.complete = False
            break
    return parsed


def parse_answers(message: bytes) -> list[Answer]:
    """Return the A, AAAA and CNAME records of a response's answer section."""
    if len(message) < 12:
        return []
    qdcount = (message[4] << 8) | message[5]
    ancount = (message[6] << 8) | message[7]
    answers: list[Answer] = []
    try:
        offset = 12
        for _ in range(qdcount):
            _raw, offset = read_name(message, offset)
            offset += 4
        for _ in range(min(ancount, MAX_RECORDS)):
            raw, offset = read_name(message, offset)
            if offset + 10 > len(message):
                break
            rtype = (message[offset] << 8) | message[offset + 1]
            ttl = int.from_bytes(message[offset + 4 : offset + 8], "big") & 0x7FFFFFFF
            length = (message[offset + 8] << 8) | message[offset + 9]
            start = offset + 10
            offset = start + length
            if offset > len(message):
                break
            if rtype == TYPE_A and length == 4:
                value = str(ipaddress.IPv4Address(message[start:offset]))
            elif rtype == TYPE_AAAA and length == 16:
                value = str(ipaddress.IPv6Address(message[start:offset]))
            elif rtype == TYPE_CNAME:
                target, _end = read_name(message, start)
                value = render_name(target)
            else:
                continue
            answers.append(Answer(render_name(raw), rtype, ttl, value))
    except Malformed:
        pass
    return answers


def read_name(message: bytes, offset: int) -> tuple[bytes, int]:
    """Read a possibly compressed name; return its labels joined by dots and the next offset.

    Raises Malformed when the name runs past the message, loops, or uses a reserved label type.
    """
    labels: list[bytes] = []
    size = len(message)
    resume = -1
    jumps = 0
    while True:
        if offset >= size:
            raise Malformed
        length = message[offset]
        if length == 0:
            offset += 1
            break
        if length >= 0xC0:
            if offset + 1 >= size:
                raise Malformed
            if resume < 0:
                resume = offset + 2
            jumps += 1
            if jumps > MAX_POINTER_JUMPS:
                raise Malformed
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        if length & 0xC0:
            raise Malformed  # extended (0x40) and reserved (0x80) label types
        start = offset + 1
        offset = start + length
        if offset > size:
            raise Malformed
        labels.append(message[start:offset])
    return b".".join(labels), (resume if resume >= 0 else offset)


def render_name(raw: bytes) -> str:
    """Render a name's bytes the way tshark displays them."""
    if not raw:
        return ROOT_NAME
    if _ODD_BYTES.search(raw) is None:
        return raw.decode("ascii")
    return render_text(raw)


def render_text(raw: bytes) -> str:
    """Render arbitrary bytes as tshark's text formatting does (see the module docstring)."""
    out: list[str] = []
    index = 0
    size = len(raw)
    while index < size:
        byte = raw[index]
        if byte < 0x80:
            if 0x20 <= byte < 0x7F:
                out.append(chr(byte))
            else:
                out.append(_C_ESCAPES.get(byte) or f"\\{byte:03o}")
            index += 1
            continue
        if byte < 0xC0 or byte >= 0xFE:
            out.append("\ufffd")
            index += 1
            continue
        width = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4 if byte < 0xF8 else 5 if byte < 0xFC else 6
        code = byte & (0x7F >> width)
        taken = 1
        while taken < width and index + taken < size and raw[index + taken] & 0xC0 == 0x80:
            code = (code << 6) | (raw[index + taken] & 0x3F)
            taken += 1
        index += taken
        if taken < width or width > 4 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
            continue
        char = chr(code)
        if unicodedata.category(char) in _NOT_PRINTABLE:
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
        else:
            out.append(char)
    return "".join(out)


def looks_like_dns_query(message: bytes) -> bool:
    """Tell whether a UDP payload on a non-DNS port is plainly a DNS query.

    Used for captures only, so that DNS on a non-standard port (8053, say) is still read, as
    tshark's heuristic does; conservative to keep other protocols out.
    """
    if len(message) <= 12:
        return False
    flags = (message[2] << 8) | message[3]
    if flags & 0x8000 or flags & 0x7800 or flags & 0x0040:
        return False  # a response, a non-standard opcode, or the Z bit set
    if message[4:10] != b"\x00\x01\x00\x00\x00\x00":
        return False  # exactly one question, no answer or authority records
    if ((message[10] << 8) | message[11]) > 1:
        return False
    try:
        _raw, offset = read_name(message, 12)
    except Malformed:
        return False
    return offset + 4 <= len(message)
