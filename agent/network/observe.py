"""Turn decoded packets into AI sightings: DNS names, TLS/QUIC server names, answer addresses.

Every name is judged (:func:`signatures.judge_name`: the catalogue, then a few likely-AI
heuristics) the moment it is parsed; a name that passes neither is dropped there and then, so
no browsing history is ever kept. Sightings are aggregated per name and handed out as findings
by :meth:`NetworkObserver.drain`; answer addresses of kept names go to an address book.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from agent.addressbook import AddressBook
from agent.evidence import EvidenceField
from agent.network.dns import (
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    looks_like_dns_query,
    parse_answers,
    parse_message,
    question_name,
)
from agent.network.packet import PROTO_TCP, PROTO_UDP, Segment
from agent.network.quic import InitialAssembler, is_initial
from agent.network.tls import is_client_hello_record, sni_from_record
from signatures import Finding, FindingKind, Matcher, NameVerdict, judge_name

DNS_UDP_PORTS = frozenset((53, 5353, 5355))  # DNS, mDNS, LLMNR: tshark decodes all three
DNS_TCP_PORTS = frozenset((53, 5353))
# UDP services that are never DNS: the heuristic for DNS on odd ports skips them.
_NOT_DNS_UDP_PORTS = frozenset(
    (67, 68, 69, 123, 137, 138, 161, 162, 443, 500, 514, 1900, 3478, 4500, 5060)
)
_TCP_FIN_RST = 0x05
_TCP_SYN = 0x02

MAX_EVIDENCE_ITEMS = 16
_QTYPE_NAMES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}

_VERDICT_CACHE = 65536
_TRANSACTIONS = 65536
_UNKNOWN = object()

# What a capture finding's evidence may hold; the runner adds nothing to these findings.
EVIDENCE: tuple[EvidenceField, ...] = (
    EvidenceField("source", "text", "live (capture on this host) or pcap (a capture file)."),
    EvidenceField(
        "count", "integer", "How often the name was seen since the last report.", volatile=True
    ),
    EvidenceField("matched", "text", "The catalogue indicator that matched, as kind:value."),
    EvidenceField("qtypes", "text list", "DNS query types asked (A, AAAA, HTTPS...)."),
    EvidenceField("clients", "text list", "Addresses that asked or connected (at most 16)."),
    EvidenceField(
        "addresses",
        "text list",
        "Answer addresses (they rotate between reports).",
        volatile=True,
    ),
    EvidenceField("cnames", "text list", "CNAMEs in the answers."),
    EvidenceField("resolvers", "text list", "DNS servers that answered."),
    EvidenceField("transports", "text list", "tls or quic, for a server name."),
    EvidenceField(
        "servers",
        "text list",
        "Server addresses a ClientHello went to (they rotate between reports).",
        volatile=True,
    ),
)


@dataclass(slots=True)
class _Sighting:
    kind: FindingKind
    name: str
    verdict: NameVerdict
    first: float
    last: float
    count: int = 0
    details: dict[str, list[str]] = field(default_factory=dict)

    def note(self, key: str, value: str) -> None:
        values = self.details.setdefault(key, [])
        if value not in values and len(values) < MAX_EVIDENCE_ITEMS:
            values.append(value)


@dataclass(slots=True)
class ObserverStats:
    packets: int = 0
    dns_messages: int = 0
    dns_malformed: int = 0
    client_hellos: int = 0
    names_dropped: int = 0
    sightings_dropped: int = 0


class NetworkObserver:
    """Consume decoded segments and aggregate AI sightings until they are drained."""

    def __init__(
        self,
        matcher: Matcher,
        *,
        source: str = "live",
        address_book: AddressBook | None = None,
        max_sightings: int = 4096,
        max_tcp_flows: int = 256,
    ) -> None:
        self.matcher = matcher
        self.source = source
        self.addresses = address_book if address_book is not None else AddressBook()
        self.stats = ObserverStats()
        self._sightings: dict[tuple[FindingKind, str], _Sighting] = {}
        self._max_sightings = max_sightings
        self._verdicts: dict[int, NameVerdict | None] = {}
        # (client, port, id) of recent queries -> whether the name was kept; no names.
        self._transactions: dict[tuple[bytes, int, int], bool] = {}
        self._tcp = TcpDnsStreams(max_tcp_flows)
        self._quic = InitialAssembler()

    def feed(self, segment: Segment, timestamp: float) -> None:
        """Process one transport segment captured at ``timestamp`` (seconds since the epoch)."""
        self.stats.packets += 1
        protocol, src, dst, sport, dport, payload, seq, flags = segment
        if protocol == PROTO_UDP:
            if not payload:
                return
            if sport in DNS_UDP_PORTS or dport in DNS_UDP_PORTS:
                self.dns_message(payload, src, dst, timestamp, sport, dport)
            elif is_initial(payload):
                name = self._quic.add(payload)
                if name is not None:
                    self.server_name(name, "quic", src, dst, timestamp)
            elif (
                sport not in _NOT_DNS_UDP_PORTS
                and dport not in _NOT_DNS_UDP_PORTS
                and looks_like_dns_query(payload)
            ):
                self.dns_message(payload, src, dst, timestamp, sport, dport)
        elif protocol == PROTO_TCP:
            if sport in DNS_TCP_PORTS or dport in DNS_TCP_PORTS:
                for message in self._tcp.add(src, dst, sport, dport, seq, flags, payload):
                    self.dns_message(message, src, dst, timestamp, sport, dport)
            elif payload and is_client_hello_record(payload):
                self.stats.client_hellos += 1
                name = sni_from_record(payload)
                if name is not None:
                    self.server_name(name, "tls", src, dst, timestamp)

    def dns_message(
        self,
        payload: bytes,
        src: bytes,
        dst: bytes,
        timestamp: float,
        sport: int = 0,
        dport: int = 0,
    ) -> None:
        """Record the AI names a DNS query asks for, and the addresses a response gives."""
        if len(payload) > 12 and payload[4:6] == b"\x00\x01":
            # The common case, one question: skip building a message object.
            transaction = (payload[0] << 8) | payload[1]
            if payload[2] & 0x80:
                # A response to a query seen dropping its name is dropped unread.
                if self._transactions.get((dst, dport, transaction)) is False:
                    self.stats.dns_messages += 1
                    self.stats.names_dropped += 1
                    return
            self.stats.dns_messages += 1
            name, offset = question_name(payload, 12)
            if name is None or offset + 4 > len(payload):
                self.stats.dns_malformed += 1
                return
            if not payload[2] & 0x80:
                kept = self._query(
                    name, (payload[offset] << 8) | payload[offset + 1], src, timestamp
                )
                if len(self._transactions) >= _TRANSACTIONS:
                    self._transactions.clear()
                self._transactions[(src, sport, transaction)] = kept
                return
            verdict = self._verdict(name)
            if verdict is None:
                self.stats.names_dropped += 1
            else:
                self._response(payload, name, verdict, src, timestamp)
            return
        message = parse_message(payload)
        if message is None:
            self.stats.dns_malformed += 1
            return
        self.stats.dns_messages += 1
        if not message.complete:
            self.stats.dns_malformed += 1
        if not message.response:
            for name, qtype in message.questions:
                self._query(name, qtype, src, timestamp)
            return
        for name, _qtype in message.questions:
            verdict = self._verdict(name)
            if verdict is not None:
                self._response(payload, name, verdict, src, timestamp)
                return
        self.stats.names_dropped += len(message.questions)

    def _response(
        self, payload: bytes, name: str, verdict: NameVerdict, src: bytes, timestamp: float
    ) -> None:
        sighting = self._sighting(FindingKind.DNS, verdict, timestamp)
        for answer in parse_answers(payload):
            if answer.rtype in (TYPE_A, TYPE_AAAA):
                self.addresses.add(
                    answer.value, verdict.service_id, verdict.name, answer.ttl, timestamp
                )
                if sighting is not None:
                    sighting.note("addresses", answer.value)
            elif answer.rtype == TYPE_CNAME and sighting is not None:
                sighting.note("cnames", answer.value.lower())
        if sighting is not None:
            sighting.note("resolvers", _address(src))

    def _query(self, name: str, qtype: int, src: bytes, timestamp: float) -> bool:
        verdict = self._verdict(name)
        if verdict is None:
            self.stats.names_dropped += 1
            return False
        sighting = self._sighting(FindingKind.DNS, verdict, timestamp)
        if sighting is None:
            return True
        sighting.count += 1
        sighting.note("qtypes", _QTYPE_NAMES.get(qtype, str(qtype)))
        sighting.note("clients", _address(src))
        return True

    def server_name(
        self, name: str, transport: str, src: bytes, dst: bytes, timestamp: float
    ) -> None:
        """Record a TLS or QUIC server name when it names an AI service."""
        if transport == "quic":
            self.stats.client_hellos += 1
        verdict = self._verdict(name)
        if verdict is None:
            self.stats.names_dropped += 1
            return
        sighting = self._sighting(FindingKind.SNI, verdict, timestamp)
        if sighting is None:
            return
        sighting.count += 1
        sighting.note("transports", transport)
        sighting.note("servers", _address(dst))
        sighting.note("clients", _address(src))

    def _verdict(self, name: str) -> NameVerdict | None:
        # Keyed by the name's (per-process salted) hash, never the name: remembering that a
        # name was dropped must not turn into a list of the names that were visited.
        key = hash(name)
        known = self._verdicts.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        verdict = judge_name(self.matcher, name)
        if len(self._verdicts) >= _VERDICT_CACHE:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict

    def _sighting(
        self, kind: FindingKind, verdict: NameVerdict, timestamp: float
    ) -> _Sighting | None:
        name = verdict.name
        key = (kind, name)
        sighting = self._sightings.get(key)
        if sighting is None:
            if len(self._sightings) >= self._max_sightings:
                self.stats.sightings_dropped += 1
                return None
            sighting = _Sighting(kind, name, verdict, timestamp, timestamp)
            self._sightings[key] = sighting
        else:
            sighting.first = min(sighting.first, timestamp)
            sighting.last = max(sighting.last, timestamp)
        return sighting

    def findings(self) -> list[Finding]:
        """Return the findings aggregated so far, without clearing them."""
        return [self._finding(sighting) for sighting in self._sightings.values()]

    def drain(self) -> list[Finding]:
        """Return the findings observed since the last drain, and forget them."""
        findings = self.findings()
        self._sightings = {}
        return findings

    def _finding(self, sighting: _Sighting) -> Finding:
        verdict = sighting.verdict
        evidence: dict[str, str | int | float | bool | list[str] | None] = {
            "source": self.source,
            "count": sighting.count,
        }
        if verdict.matched:
            evidence["matched"] = verdict.matched
        for key, values in sighting.details.items():
            evidence[key] = list(values)
        return Finding(
            kind=sighting.kind,
            indicator=sighting.name[:1024],
            indicator_kind=verdict.indicator_kind.value,
            service_id=verdict.service_id,
            confidence=verdict.confidence,
            heuristic=verdict.heuristic,
            evidence=evidence,
            first_seen=_utc(sighting.first),
            last_seen=_utc(sighting.last),
            severity=self.matcher.catalogue.severity_of(verdict.service_id),
        )


_FlowKey = tuple[bytes, bytes, int, int]


class TcpDnsStreams:
    """Reassemble DNS-over-TCP messages (two-byte length prefix) per flow, in order only."""

    def __init__(self, max_flows: int = 256, max_buffer: int = 2 * 65537) -> None:
        self._flows: OrderedDict[_FlowKey, list[int | bytearray]] = OrderedDict()
        self._max_flows = max_flows
        self._max_buffer = max_buffer

    def add(
        self, src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int, payload: bytes
    ) -> Iterator[bytes]:
        """Feed one segment; yield every DNS message it completes."""
        key = (src, dst, sport, dport)
        if flags & _TCP_SYN:
            self._flows.pop(key, None)
            self._remember(key, [(seq + 1) & 0xFFFFFFFF, bytearray()])
        if not payload:
            if flags & _TCP_FIN_RST:
                self._flows.pop(key, None)
            return
        flow = self._flows.get(key)
        if flow is None:
            flow = [seq, bytearray()]  # joined mid-stream: assume a message starts here
            self._remember(key, flow)
        expected = flow[0]
        buffer = flow[1]
        assert isinstance(expected, int) and isinstance(buffer, bytearray)
        delta = (seq - expected) & 0xFFFFFFFF
        if delta == 0:
            buffer += payload
        elif delta >= 0x80000000:  # retransmission overlapping what we already have
            overlap = (expected - seq) & 0xFFFFFFFF
            if overlap >= len(payload):
                return
            buffer += payload[overlap:]
        else:  # a gap: the missing bytes never arrived, start afresh at this segment
            buffer.clear()
            buffer += payload
        flow[0] = (seq + len(payload)) & 0xFFFFFFFF
        while len(buffer) >= 2:
            length = (buffer[0] << 8) | buffer[1]
            if len(buffer) < 2 + length:
                break
            message = bytes(buffer[2 : 2 + length])
            del buffer[: 2 + length]
            if length:
                yield message
        if len(buffer) > self._max_buffer:
            buffer.clear()
        if flags & _TCP_FIN_RST:
            self._flows.pop(key, None)

    def _remember(self, key: _FlowKey, flow: list[int | bytearray]) -> None:
        self._flows[key] = flow
        if len(self._flows) > self._max_flows:
            self._flows.popitem(last=False)


def _address(packed: bytes) -> str:
    if len(packed) == 4:
        return f"{packed[0]}.{packed[1]}.{packed[2]}.{packed[3]}"
    return str(ipaddress.IPv6Address(packed))


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC)
