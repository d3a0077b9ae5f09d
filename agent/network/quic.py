"""Read the server name from QUIC Initial packets (versions 1 and 2, RFC 9001 / RFC 9369).

Initial packets are encrypted with keys derived from the client's destination connection id,
which travels in clear, so any observer can remove the protection. Browsers split and reorder
the ClientHello over several CRYPTO frames and Initial packets; :class:`InitialAssembler`
puts them back together, keyed by connection id, within a bounded table.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from functools import lru_cache

from agent.network.aes import aes128_ecb_block, aes128_gcm_open
from agent.network.tls import sni_from_handshake

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF

# version -> (initial salt, label prefix, long-header type bits of an Initial packet)
_VERSIONS: dict[int, tuple[bytes, bytes, int]] = {
    QUIC_V1: (bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"), b"quic ", 0),
    QUIC_V2: (bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"), b"quicv2 ", 1),
}
_MAX_CRYPTO_BYTES = 16384


def hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """Return TLS 1.3 HKDF-Expand-Label(secret, label, "", length) over SHA-256."""
    full_label = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label + b"\x00"
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        output += block
        counter += 1
    return output[:length]


@lru_cache(maxsize=256)
def client_initial_keys(dcid: bytes, version: int = QUIC_V1) -> tuple[bytes, bytes, bytes]:
    """Return the client's Initial (key, iv, header-protection key) for a connection id."""
    salt, prefix, _type = _VERSIONS[version]
    initial_secret = hmac.new(salt, dcid, hashlib.sha256).digest()
    client_secret = hkdf_expand_label(initial_secret, b"client in", 32)
    return (
        hkdf_expand_label(client_secret, prefix + b"key", 16),
        hkdf_expand_label(client_secret, prefix + b"iv", 12),
        hkdf_expand_label(client_secret, prefix + b"hp", 16),
    )


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """Read a QUIC variable-length integer; raises IndexError when data runs out."""
    first = data[offset]
    size = 1 << (first >> 6)
    if offset + size > len(data):
        raise IndexError("varint runs past the end")
    value = first & 0x3F
    for index in range(1, size):
        value = (value << 8) | data[offset + index]
    return value, offset + size


def is_initial(datagram: bytes) -> bool:
    """Tell whether a UDP payload starts with a QUIC v1/v2 Initial long header."""
    if len(datagram) < 7 or datagram[0] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(datagram[1:5], "big")
    known = _VERSIONS.get(version)
    return known is not None and (datagram[0] >> 4) & 3 == known[2]


def decrypt_initial(datagram: bytes) -> tuple[bytes, list[tuple[int, bytes]]] | None:
    """Remove an Initial packet's protection; return its connection id and CRYPTO frames."""
    if not is_initial(datagram):
        return None
    version = int.from_bytes(datagram[1:5], "big")
    try:
        dcid_length = datagram[5]
        if dcid_length > 20:
            return None
        dcid = datagram[6 : 6 + dcid_length]
        offset = 6 + dcid_length
        offset += 1 + datagram[offset]  # source connection id
        token_length, offset = read_varint(datagram, offset)
        offset += token_length
        length, pn_offset = read_varint(datagram, offset)
    except IndexError:
        return None
    end = pn_offset + length
    if end > len(datagram) or length < 20:
        return None
    key, iv, hp = client_initial_keys(bytes(dcid), version)
    sample = datagram[pn_offset + 4 : pn_offset + 20]
    mask = aes128_ecb_block(hp, bytes(sample))  # RFC 9001 5.4.3
    first = datagram[0] ^ (mask[0] & 0x0F)
    pn_length = (first & 0x03) + 1
    packet_number = bytes(datagram[pn_offset + i] ^ mask[1 + i] for i in range(pn_length))
    header = bytes([first]) + datagram[1:pn_offset] + packet_number
    nonce = (int.from_bytes(iv, "big") ^ int.from_bytes(packet_number, "big")).to_bytes(12, "big")
    plain = aes128_gcm_open(key, nonce, bytes(datagram[pn_offset + pn_length : end]), header)
    if plain is None:
        return None
    return bytes(dcid), crypto_frames(plain)


def crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    """Return the (offset, data) CRYPTO frames of a decrypted Initial payload."""
    frames: list[tuple[int, bytes]] = []
    position = 0
    try:
        while position < len(plain):
            frame_type = plain[position]
            position += 1
            if frame_type in (0x00, 0x01):  # PADDING, PING
                continue
            if frame_type in (0x02, 0x03):  # ACK
                _largest, position = read_varint(plain, position)
                _delay, position = read_varint(plain, position)
                ranges, position = read_varint(plain, position)
                _first, position = read_varint(plain, position)
                for _ in range(min(ranges, 256)):
                    _gap, position = read_varint(plain, position)
                    _length, position = read_varint(plain, position)
                if frame_type == 0x03:
                    for _ in range(3):
                        _count, position = read_varint(plain, position)
                continue
            if frame_type == 0x06:  # CRYPTO
                offset, position = read_varint(plain, position)
                length, position = read_varint(plain, position)
                if position + length > len(plain):
                    break
                frames.append((offset, plain[position : position + length]))
                position += length
                continue
            break  # CONNECTION_CLOSE or anything unexpected in an Initial: stop reading
    except IndexError:
        pass
    return frames


class InitialAssembler:
    """Rebuild ClientHellos from Initial packets; at most ``max_connections`` in progress."""

    def __init__(self, max_connections: int = 256) -> None:
        self._pending: OrderedDict[bytes, dict[int, bytes]] = OrderedDict()
        self._max = max_connections

    def add(self, datagram: bytes) -> str | None:
        """Feed one UDP payload; return the SNI once the ClientHello has revealed it."""
        decrypted = decrypt_initial(datagram)
        if decrypted is None:
            return None
        dcid, frames = decrypted
        if not frames:
            return None
        pieces = self._pending.get(dcid)
        if pieces is None:
            if len(self._pending) >= self._max:
                self._pending.popitem(last=False)
            pieces = {}
            self._pending[dcid] = pieces
        for offset, data in frames:
            if offset + len(data) <= _MAX_CRYPTO_BYTES:
                pieces[offset] = data
        stream = bytearray()
        for offset in sorted(pieces):
            if offset > len(stream):
                break
            data = pieces[offset]
            stream[offset : offset + len(data)] = data
        name = sni_from_handshake(bytes(stream))
        if name is not None:
            del self._pending[dcid]
        return name
