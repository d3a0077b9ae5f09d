"""The one judge of a web link: an http(s) URL that CISO Assistant (Django's URLValidator, the
check behind its URL fields) accepts too, so a link Shadowmap stores is a link it can push.

The rules, as that validator applies them: at most 2048 characters, no tab or line break;
``scheme://``, optional ``user[:password]@``; a host that is a dotted-decimal IPv4 address (no
leading zeros), a bracketed IPv6 address, ``localhost``, or a DNS name of at least two labels
whose last label (the top-level domain) is 2-63 letters or an ``xn--`` label; an optional port of
1-5 digits; then nothing, or a path, query or fragment without whitespace. So
``http://intranet/wiki`` is refused (no dot in the host name) while ``http://10.0.0.5/wiki``
and ``http://wiki.intranet/`` pass. tests/server/test_links.py checks this module against
Django's own validator.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_LINK_LENGTH = 2048
#: What the refusal says, in CISO Assistant's words.
INVALID_LINK = "Enter a valid URL."
#: The rule in one line, for error messages.
LINK_RULE = (
    "(an http(s) URL whose host is an IP address, localhost or a name with a dot, "
    "e.g. https://wiki.example.com/page, not http://intranet/page)"
)
WEB_SCHEMES = ("http", "https")
_DJANGO_SCHEMES = ("http", "https", "ftp", "ftps")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.+-")
_DIGITS = frozenset("0123456789")
_HEX_IP6 = frozenset("0123456789abcdef:.")
_AUTHORITY_END = frozenset("/?#")


def link_problem(value: object, *, schemes: tuple[str, ...] = WEB_SCHEMES) -> str | None:
    """Return why ``value`` is not an acceptable link (None when it is one)."""
    if not isinstance(value, str) or len(value) > MAX_LINK_LENGTH:
        return INVALID_LINK
    if any(ch in "\t\r\n" for ch in value):
        return INVALID_LINK
    scheme, separator, rest = value.partition("://")
    if not separator or scheme.lower() not in schemes:
        return INVALID_LINK
    if scheme.lower() not in _DJANGO_SCHEMES or not set(scheme.lower()) <= _SCHEME_CHARS:
        return INVALID_LINK
    try:
        parts = urlsplit(value)
    except ValueError:
        return INVALID_LINK
    if not any(_host_and_after(candidate) for candidate in _without_userinfo(rest)):
        return INVALID_LINK
    netloc = parts.netloc
    if netloc.startswith("["):
        # A bracketed host (and nothing but a port after it) must be a real IPv6 address.
        inside, _, after = netloc[1:].rpartition("]")
        if inside and (not after or _is_port(after)) and not _is_ipv6(inside):
            return INVALID_LINK
    if parts.hostname is None or len(parts.hostname) > 253:
        return INVALID_LINK
    return None


def is_link(value: object, *, schemes: tuple[str, ...] = WEB_SCHEMES) -> bool:
    """Return whether ``value`` is an acceptable link."""
    return link_problem(value, schemes=schemes) is None


def _without_userinfo(rest: str) -> list[str]:
    """Return what may follow ``scheme://``: with a leading ``user[:password]@`` taken off,
    when there is one, and as it is."""
    candidates = []
    userinfo, at, after = rest.partition("@")
    if at and userinfo:
        user, colon, password = userinfo.partition(":")
        if _userinfo_part(user) and (not colon or _userinfo_part(password, allow_empty=True)):
            candidates.append(after)
    candidates.append(rest)
    return candidates


def _userinfo_part(text: str, *, allow_empty: bool = False) -> bool:
    if not text:
        return allow_empty
    return not any(ch.isspace() or ch in ":@/" for ch in text)


def _host_and_after(text: str) -> bool:
    """Whether ``text`` is host, optional port, then nothing or a path/query/fragment."""
    if text.startswith("["):
        close = text.find("]")
        if close < 2 or not set(text[1:close].lower()) <= _HEX_IP6:
            return False
        after = text[close + 1 :]
    else:
        end = len(text)
        for index, ch in enumerate(text):
            if ch == ":" or ch in _AUTHORITY_END:
                end = index
                break
        host, after = text[:end], text[end:]
        if not (_is_ipv4(host) or _is_dns_name(host) or host.lower() == "localhost"):
            return False
    if after.startswith(":"):
        digits = after[1:]
        count = 0
        while count < len(digits) and digits[count] in _DIGITS:
            count += 1
        if not 1 <= count <= 5:
            return False
        after = digits[count:]
    if not after:
        return True
    return after[0] in _AUTHORITY_END and not any(ch.isspace() for ch in after[1:])


def _is_port(text: str) -> bool:
    return text.startswith(":") and 1 <= len(text) - 1 <= 5 and set(text[1:]) <= _DIGITS


def _is_ipv4(host: str) -> bool:
    octets = host.split(".")
    if len(octets) != 4:
        return False
    for octet in octets:
        if not octet or not set(octet) <= _DIGITS or len(octet) > 3:
            return False
        if octet != "0" and octet.startswith("0"):
            return False
        if int(octet) > 255:
            return False
    return True


def _is_ipv6(text: str) -> bool:
    if len(text) > 39:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _name_char(ch: str) -> bool:
    """A letter or digit of a host name: ASCII alphanumerics or any character from U+00A1 to
    U+FFFF (internationalised names are written in their own script)."""
    return (ch.isascii() and ch.isalnum()) or "\u00a1" <= ch <= "\uffff"


def _is_label(label: str) -> bool:
    return (
        1 <= len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(_name_char(ch) or ch == "-" for ch in label)
    )


def _is_top_level(label: str) -> bool:
    """2-63 letters (ASCII digits are not letters here) or hyphens, or a punycode label."""
    lowered = label.lower()
    if lowered.startswith("xn--"):
        tail = lowered[4:]
        if 1 <= len(tail) <= 59 and all(ch.isascii() and ch.isalnum() for ch in tail):
            return True
    return (
        2 <= len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(
            ch == "-" or (_name_char(ch) and not ch.isascii()) or (ch.isascii() and ch.isalpha())
            for ch in label
        )
    )


def _is_dns_name(host: str) -> bool:
    """At least two labels; the last a top-level domain; one trailing dot allowed."""
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if len(labels) < 2:
        return False
    return all(_is_label(label) for label in labels[:-1]) and _is_top_level(labels[-1])
