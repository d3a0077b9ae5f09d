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
UNKNOWN_EXTENDED_LABEL = "<Unknown extended label>"
POINTER_LOOP = "<Name contains a pointer that loops>"
NAME_TOO_LONG = "<Name too long>"
MAX_NAME_BUFFER = 255  # tshark's name buffer; a name needing all of it is "too long"
MAX_NAME_STEPS = 65536  # labels and pointers followed for one name
MAX_MESSAGE_STEPS = 262144  # the same, for all the names of one message
MAX_NAME_CHARS = 250  # plain names shorter than this never reach the buffer's end
MAX_POINTER_JUMPS = 64
MAX_RECORDS = 256  # answers parsed per message; a response needs far fewer

_ODD_BYTES = re.compile(rb"[^\x20-\x7e]")
_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
_NOT_PRINTABLE = frozenset(("Cc", "Cf", "Cn", "Cs"))
# Sequence length announced by a lead byte 0xC0-0xFD, indexed by bits 2-5 of the byte.
_UTF8_WIDTHS = (2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6)


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
    size = len(message)
    budget = [MAX_MESSAGE_STEPS]
    for _ in range(count):
        name, offset = question_name(message, offset, budget)
        if name is None or offset + 4 > size:
            parsed.complete = False
            break
        questions.append((name, (message[offset] << 8) | message[offset + 1]))
        offset += 4
    return parsed


def question_name(
    message: bytes, offset: int, budget: list[int] | None = None
) -> tuple[str | None, int]:
    """Read a question name as tshark does; return (rendered name or None, next offset).

    None means the name is unreadable (tshark stops dissecting there). Plain names take a
    fast path; pointers, extended labels and over-long names take :func:`_tshark_name`,
    whose work is bounded per name and, through ``budget``, per message: a hostile message
    of pointer chains can not make us loop for long (tshark would follow them all).
    """
    size = len(message)
    start = offset
    if offset >= size:
        return None, start
    length = message[offset]
    if length == 0:
        return ROOT_NAME, offset + 1
    dots: list[int] = []
    while length < 0x40:
        offset += length + 1
        if offset >= size:
            return None, start
        length = message[offset]
        if length == 0:
            if offset - start > MAX_NAME_CHARS:
                break
            raw = bytearray(message[start + 1 : offset])
            for dot in dots:
                raw[dot - start - 1] = 0x2E
            if _ODD_BYTES.search(raw) is None:
                return raw.decode("ascii"), offset + 1
            return render_text(bytes(raw)), offset + 1
        dots.append(offset)
    return _tshark_name(message, start, budget)


def _tshark_name(
    message: bytes, start: int, budget: list[int] | None = None
) -> tuple[str | None, int]:
    """Expand a name with tshark's exact rules for pointers, odd labels and long names."""
    allowance = MAX_NAME_STEPS if budget is None else min(MAX_NAME_STEPS, budget[0])
    steps = [allowance]
    try:
        return _expand(message, start, steps)
    finally:
        if budget is not None:
            budget[0] = max(0, budget[0] - (allowance - steps[0]))


def _expand(message: bytes, start: int, steps: list[int]) -> tuple[str | None, int]:
    size = len(message)
    buffer = bytearray()
    name_length = 0  # tshark counts label bytes and dots, not bitstring text
    room = MAX_NAME_BUFFER
    consumed = -1
    pointers = 0
    offset = start
    seen: set[int] = set()
    while True:
        steps[0] -= 1
        if offset >= size or steps[0] < 0:
            return None, start
        length = message[offset]
        offset += 1
        if length == 0:
            break
        kind = length & 0xC0
        if kind == 0x00:
            if buffer:
                if room > 0:
                    buffer.append(0x2E)
                    name_length += 1
                    room -= 1
            else:
                room -= 1
            if offset + length > size:
                return None, start
            if room > 0:
                taken = message[offset : offset + min(length, room)]
                buffer += taken
                name_length += len(taken)
                room -= len(taken)
            offset += length
        elif kind == 0x40:
            if length & 0x3F != 0x01:
                consumed = offset - start
                if consumed <= 1:  # tshark rejects a name that is only this label
                    return None, start
                return UNKNOWN_EXTENDED_LABEL, start + consumed
            if offset >= size:
                return None, start
            bits = message[offset]
            offset += 1
            width = int((bits - 1) / 8) + 1  # C division truncates toward zero
            if offset + width > size:
                return None, start
            text = "\\[x" + message[offset : offset + width].hex() + f"/{bits}]"
            offset += width
            if room > 0:
                if len(text) < room:
                    buffer += text.encode()
                    room -= len(text)
                else:
                    room = 0
        elif kind == 0x80:
            return None, start
        else:
            if offset >= size:
                return None, start
            target = ((length & 0x3F) << 8) | message[offset]
            offset += 1
            pointers += 1
            if consumed < 0:
                consumed = offset - start
            # A pointer met twice means an endless cycle, which tshark reports after 255
            # pointers: report it at once instead of walking the cycle.
            if target == offset + 2 or pointers > MAX_NAME_BUFFER or offset in seen:
                return POINTER_LOOP, start + consumed
            seen.add(offset)
            offset = target
    if consumed < 0:
        consumed = offset - start
    if room <= 0:
        return NAME_TOO_LONG, start + consumed
    if (not buffer or buffer[0] == 0) and consumed <= 2:
        return ROOT_NAME, start + consumed  # tshark 4.0: an empty (or NUL-led) name via a pointer
    if name_length == 0:
        return None, start
    return render_name(bytes(buffer[:name_length])), start + consumed


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
        width = _UTF8_WIDTHS[(byte >> 2) & 0x0F]
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
