"""Build DNS, TLS and QUIC packets, and pcap files of them, for tests and benchmarks.

Test support, not part of the shipped agent: tests and bench/ import it from here.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agent.network.pcapfile import PCAP_MAGIC_USEC
from agent.network.quic import QUIC_V1, QUIC_V2, client_initial_keys

_ETH_SRC = bytes.fromhex("020000000001")
_ETH_DST = bytes.fromhex("020000000002")


def encode_name(name: str) -> bytes:
    """Encode a dotted name as DNS labels (no compression)."""
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode()
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def dns_query(name: str, *, ident: int = 1, qtype: int = 1) -> bytes:
    """Return a DNS query message for one name."""
    return (
        struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", qtype, 1)
    )


def dns_response(
    name: str, addresses: Sequence[str], *, ident: int = 1, ttl: int = 300, cname: str | None = None
) -> bytes:
    """Return a response answering ``name`` (optionally via a CNAME) with A/AAAA records."""
    import ipaddress

    answers = bytearray()
    count = 0
    owner = b"\xc0\x0c"
    if cname is not None:
        target = encode_name(cname)
        answers += owner + struct.pack("!HHIH", 5, 1, ttl, len(target)) + target
        owner = encode_name(cname)
        count += 1
    for address in addresses:
        packed = ipaddress.ip_address(address).packed
        rtype = 1 if len(packed) == 4 else 28
        answers += owner + struct.pack("!HHIH", rtype, 1, ttl, len(packed)) + packed
        count += 1
    question = encode_name(name) + struct.pack("!HH", 1, 1)
    return struct.pack("!HHHHHH", ident, 0x8180, 1, count, 0, 0) + question + bytes(answers)


def udp(
    payload: bytes, sport: int, dport: int, *, src: str = "10.200.0.1", dst: str = "10.200.0.2"
) -> bytes:
    """Wrap a payload in UDP and IPv4 or IPv6 (chosen by the address family)."""
    header = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    return ip(17, header + payload, src=src, dst=dst)


def tcp(
    payload: bytes,
    sport: int,
    dport: int,
    *,
    seq: int = 1000,
    flags: int = 0x18,
    src: str = "10.200.0.1",
    dst: str = "10.200.0.2",
) -> bytes:
    """Wrap a payload in a TCP segment and IP."""
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    return ip(6, header + payload, src=src, dst=dst)


def ip(protocol: int, payload: bytes, *, src: str, dst: str) -> bytes:
    """Return an IPv4 or IPv6 packet."""
    import ipaddress

    source, target = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if source.version == 4:
        return (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(payload),
                0,
                0x4000,
                64,
                protocol,
                0,
                source.packed,
                target.packed,
            )
            + payload
        )
    return (
        struct.pack(
            "!IHBB16s16s", 6 << 28, len(payload), protocol, 64, source.packed, target.packed
        )
        + payload
    )


def ethernet(packet: bytes) -> bytes:
    """Wrap an IP packet in an Ethernet frame."""
    ethertype = b"\x08\x00" if packet[0] >> 4 == 4 else b"\x86\xdd"
    return _ETH_DST + _ETH_SRC + ethertype + packet


def client_hello(server_name: str, *, pad: int = 0) -> bytes:
    """Return a TLS 1.3-style ClientHello handshake message naming ``server_name``."""
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    extensions += struct.pack("!HH", 43, 3) + b"\x02\x03\x04"  # supported_versions
    if pad:
        extensions = struct.pack("!HH", 21, pad) + bytes(pad) + extensions
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    return b"\x01" + len(body).to_bytes(3, "big") + body


def tls_record(handshake: bytes) -> bytes:
    """Wrap a handshake message in one TLS record."""
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def quic_initials(
    handshake: bytes, *, dcid: bytes, version: int = QUIC_V1, pieces: int = 1
) -> list[bytes]:
    """Return client Initial packets carrying ``handshake`` in CRYPTO frames, in reverse order."""
    size = -(-len(handshake) // pieces)
    chunks = [
        (offset, handshake[offset : offset + size]) for offset in range(0, len(handshake), size)
    ]
    packets = [
        _protect_initial(_crypto_frame(offset, data), dcid, version, number)
        for number, (offset, data) in enumerate(chunks)
    ]
    return packets[::-1]


def _varint(value: int) -> bytes:
    if value < 64:
        return bytes([value])
    if value < 16384:
        return struct.pack("!H", 0x4000 | value)
    return struct.pack("!I", 0x80000000 | value)


def _crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + _varint(offset) + _varint(len(data)) + data


def _protect_initial(frames: bytes, dcid: bytes, version: int, number: int) -> bytes:
    key, iv, hp = client_initial_keys(dcid, version)
    frames = frames + bytes(max(0, 1162 - len(frames)))  # clients pad Initials to 1200 bytes
    packet_type = 0 if version != QUIC_V2 else 1
    first = 0xC0 | (packet_type << 4) | 0x03  # four-byte packet number
    pn = number.to_bytes(4, "big")
    length = _varint(len(pn) + len(frames) + 16)
    if len(length) == 1:
        length = struct.pack("!H", 0x4000 | (len(pn) + len(frames) + 16))
    header = (
        bytes([first])
        + version.to_bytes(4, "big")
        + bytes([len(dcid)])
        + dcid
        + b"\x00"
        + b"\x00"
        + length
    )
    nonce = (int.from_bytes(iv, "big") ^ number).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, frames, header + pn)
    sample = sealed[4 - len(pn) : 4 - len(pn) + 16]
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()  # noqa: S305 - RFC 9001
    mask = encryptor.update(sample) + encryptor.finalize()
    protected_first = first ^ (mask[0] & 0x0F)
    protected_pn = bytes(byte ^ mask[1 + index] for index, byte in enumerate(pn))
    return bytes([protected_first]) + header[1:] + protected_pn + sealed


def benchmark_packets(
    count: int, *, seed: int = 5, ai_share: float = 0.05, distinct_names: int | None = 20_000
) -> Iterator[tuple[float, bytes]]:
    """Yield ``count`` Ethernet frames of DNS traffic: queries and their responses, 20% IPv6.

    Names are drawn from ``distinct_names`` names with a Zipf-like popularity, as on a real
    network; ``distinct_names=None`` makes nearly every name new (the worst case for caches).
    """
    rng = random.Random(seed)
    ai_names = [
        "chatgpt.com",
        "api.openai.com",
        "claude.ai",
        "api.anthropic.com",
        "gemini.google.com",
        "copilot.microsoft.com",
        "huggingface.co",
        "perplexity.ai",
    ]
    words = ["mail", "www", "cdn", "static", "img", "api", "login", "news", "shop", "video"]
    tlds = ["com", "net", "org", "de", "io", "co.uk"]
    clock = 1_790_000_000.0
    name = ""
    for index in range(count):
        clock += 0.0005
        ident = (index // 2) & 0xFFFF
        v6 = (index // 2) % 5 == 0
        client = "fd00::10" if v6 else "10.200.1.10"
        resolver = "fd00::53" if v6 else "10.200.1.53"
        port = 20000 + (index // 2) % 30000
        if index % 2 == 0:  # a query, then its response
            if rng.random() < ai_share:
                name = rng.choice(ai_names)
            elif distinct_names is None:
                name = (
                    f"{rng.choice(words)}{rng.randrange(500)}."
                    f"{rng.choice(words)}-site{rng.randrange(2000)}.{rng.choice(tlds)}"
                )
            else:
                rank = int(distinct_names ** rng.random()) - 1  # log-uniform: Zipf-like
                name = (
                    f"{words[rank % 10]}{rank % 500}.{words[rank // 10 % 10]}-site{rank}."
                    f"{tlds[rank % 6]}"
                )
            packet = udp(
                dns_query(name, ident=ident, qtype=28 if v6 else 1),
                port,
                53,
                src=client,
                dst=resolver,
            )
        else:
            packet = udp(
                dns_response(name, [f"192.0.2.{rng.randrange(1, 255)}"], ident=ident),
                53,
                port,
                src=resolver,
                dst=client,
            )
        yield clock, ethernet(packet)


def write_pcap(
    path: str | Path, packets: Iterable[tuple[float, bytes]], *, linktype: int = 1
) -> int:
    """Write packets to a microsecond pcap file; return how many were written."""
    header = struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, 262144, linktype)
    record = struct.Struct("<IIII")
    count = 0
    with open(path, "wb") as out:
        out.write(header)
        for timestamp, frame in packets:
            seconds = int(timestamp)
            micros = round((timestamp - seconds) * 1e6)
            if micros >= 1_000_000:
                seconds, micros = seconds + 1, micros - 1_000_000
            out.write(record.pack(seconds, micros, len(frame), len(frame)))
            out.write(frame)
            count += 1
    return count
