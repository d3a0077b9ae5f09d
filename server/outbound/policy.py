"""Which destinations the server may call: every address a host name resolves to is judged
against the forbidden address classes (loopback, private, link-local, unique-local, multicast,
reserved, cloud metadata...) unless the outbound allow-list names it.

The judgement is made on resolved addresses, never on the URL's text, so that decimal, octal
and hexadecimal IPv4 forms, IPv4-mapped and NAT64/6to4-embedded IPv6 forms and names that
resolve to internal addresses are all caught; the caller then connects to the address that
was judged (see server/outbound/client.py), which leaves no DNS-rebinding window.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from server.errors import DestinationRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Resolves (host, port) to addresses; socket.getaddrinfo by default.
Resolver = Callable[[str, int], Sequence[str]]

METADATA = "cloud metadata"

#: Forbidden networks and the class each belongs to. Metadata comes first: those addresses
#: are also link-local or private, but an allow-list entry for a whole network does not
#: admit them (see AllowList.admits).
FORBIDDEN_NETWORKS: tuple[tuple[str, IPNetwork], ...] = tuple(
    (address_class, ipaddress.ip_network(network))
    for address_class, network in (
        (METADATA, "169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack, Oracle
        (METADATA, "169.254.170.2/32"),  # AWS ECS task metadata
        (METADATA, "100.100.100.200/32"),  # Alibaba Cloud
        (METADATA, "192.0.0.192/32"),  # Oracle Cloud (legacy)
        (METADATA, "fd00:ec2::254/128"),  # AWS over IPv6
        ("unspecified", "0.0.0.0/8"),
        ("loopback", "127.0.0.0/8"),
        ("private", "10.0.0.0/8"),
        ("shared (carrier-grade NAT)", "100.64.0.0/10"),
        ("link-local", "169.254.0.0/16"),
        ("private", "172.16.0.0/12"),
        ("reserved", "192.0.0.0/24"),
        ("documentation", "192.0.2.0/24"),
        ("reserved", "192.88.99.0/24"),
        ("private", "192.168.0.0/16"),
        ("benchmarking", "198.18.0.0/15"),
        ("documentation", "198.51.100.0/24"),
        ("documentation", "203.0.113.0/24"),
        ("multicast", "224.0.0.0/4"),
        ("reserved", "240.0.0.0/4"),  # includes the broadcast address
        ("unspecified", "::/128"),
        ("loopback", "::1/128"),
        ("reserved", "::/8"),  # IPv4-compatible and other legacy forms
        ("reserved", "100::/64"),  # discard-only
        ("reserved", "2001::/23"),  # IETF protocol assignments, Teredo included
        ("documentation", "2001:db8::/32"),
        ("documentation", "3fff::/20"),
        ("unique-local", "fc00::/7"),
        ("link-local", "fe80::/10"),
        ("reserved", "fec0::/10"),  # site-local, deprecated
        ("multicast", "ff00::/8"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_class(address: IPAddress) -> str | None:
    """Return the forbidden class of an address ("loopback", "private", ...), None if public.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4
    address they reach.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
    for name, network in FORBIDDEN_NETWORKS:
        if address.version == network.version and address in network:
            return name
    # Anything the registries do not call global (a range added after this table) is refused.
    return None if address.is_global else "reserved"


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*\.?$")
_PRINTABLE = re.compile(r"^[!-~]*$")

# What the OpenAPI document promises for a destination URL: a subset of what check_url_syntax
# accepts (tests/server/outbound/test_policy.py keeps the two in step), so that a client that
# writes to the pattern is never refused for its syntax. Whether the host may be called is
# judged on its resolved addresses, not here.
DOCUMENTED_URL = rf"^https?://{_LABEL}(\.{_LABEL})*(:[1-9][0-9]{{0,3}})?([/?#][!-~]*)?$"


def check_url_syntax(url: str) -> str:
    """Return ``url`` if it is an http(s) URL to a host name or IP address, with no user
    info and only printable ASCII; raise ValueError saying what is wrong.

    This judges the text only; where the URL leads is judged by DestinationPolicy.resolve
    on the addresses its host resolves to.
    """
    if not _PRINTABLE.match(url):
        raise ValueError("must be printable ASCII without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # urlsplit judges a bracketed host itself
        raise ValueError("has an invalid IPv6 address" if "[" in url else "is not a URL") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    if port == 0:
        raise ValueError("has an invalid port")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError("has an invalid IPv6 address") from exc
    elif not _HOST_NAME.match(host):
        raise ValueError("must name a host")
    return url


def _host_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


@dataclass(frozen=True, slots=True)
class AllowList:
    """Networks and host names outbound calls may reach although they are not public."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """Parse "127.0.0.1/32,hooks.internal"; raises ValueError naming a bad entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = _host_name(entry)
            labels = name.split(".")
            if (
                not all(
                    label
                    and len(label) <= 63
                    and label.replace("-", "").isalnum()
                    and label.isascii()
                    for label in labels
                )
                or name.replace(".", "").isdigit()
            ):
                raise ValueError(f"{entry!r} is neither an IP network nor a host name")
            hosts.add(name)
        return cls(networks=tuple(networks), hosts=frozenset(hosts))

    def admits(self, host: str, address: IPAddress, forbidden: str) -> bool:
        """Whether this list lets ``host`` (as written in the URL) reach ``address``, whose
        class is ``forbidden``. Metadata addresses need an entry naming that one address."""
        if forbidden == METADATA:
            return any(
                network.num_addresses == 1 and address in network
                for network in self.networks
                if network.version == address.version
            )
        if _host_name(host) in self.hosts:
            return True
        return any(
            address in network for network in self.networks if network.version == address.version
        )


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (getaddrinfo), which also reads every IPv4 literal
    form inet_aton accepts (2130706433, 0177.0.0.1, 0x7f.1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """Judges destinations: public addresses pass, others only when the allow-list names them."""

    allow: AllowList = AllowList()
    resolver: Resolver = system_resolver

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Return the addresses ``host`` resolves to, all of them vetted, in resolver order.

        Raises DestinationRefused when the host does not resolve, or when any address it
        resolves to is forbidden (a name that answers with one internal address among public
        ones is not trusted with any of them).
        """
        host = host.lower()
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError) as exc:
                raise DestinationRefused(host, "unresolvable") from exc
        if not found:
            raise DestinationRefused(host, "unresolvable")
        unique = list(dict.fromkeys(found))
        for address in unique:
            forbidden = address_class(address)
            if forbidden is not None and not self.allow.admits(host, address, forbidden):
                raise DestinationRefused(host, forbidden, address=str(address))
        return unique
