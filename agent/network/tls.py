"""Find the server name (SNI) in a TLS ClientHello, from a TCP payload or a QUIC CRYPTO stream.

A ClientHello cut short still yields its name when the server_name extension was captured.
"""

from __future__ import annotations

from agent.network.dns import render_name

_HANDSHAKE = 0x16
_CLIENT_HELLO = 0x01
_EXT_SERVER_NAME = 0
_MAX_SNI = 255


def is_client_hello_record(payload: bytes) -> bool:
    """Tell whether a TCP payload starts with a TLS handshake record holding a ClientHello."""
    return (
        len(payload) >= 6
        and payload[0] == _HANDSHAKE
        and payload[1] == 3
        and payload[5] == _CLIENT_HELLO
    )


def sni_from_record(payload: bytes) -> str | None:
    """Return the SNI of a ClientHello carried in TLS records, if present."""
    if not is_client_hello_record(payload):
        return None
    # Concatenate the handshake records' bodies: a large hello may span several records.
    body = bytearray()
    offset = 0
    while offset + 5 <= len(payload) and payload[offset] == _HANDSHAKE:
        length = (payload[offset + 3] << 8) | payload[offset + 4]
        body += payload[offset + 5 : offset + 5 + length]
        offset += 5 + length
    return sni_from_handshake(bytes(body))


def sni_from_handshake(data: bytes) -> str | None:
    """Return the SNI of a ClientHello handshake message (type, 3-byte length, body)."""
    if len(data) < 4 or data[0] != _CLIENT_HELLO:
        return None
    end = min(len(data), 4 + int.from_bytes(data[1:4], "big"))
    offset = 4 + 2 + 32  # legacy_version, random
    if offset + 1 > end:
        return None
    offset += 1 + data[offset]  # legacy_session_id
    if offset + 2 > end:
        return None
    offset += 2 + ((data[offset] << 8) | data[offset + 1])  # cipher_suites
    if offset + 1 > end:
        return None
    offset += 1 + data[offset]  # legacy_compression_methods
    if offset + 2 > end:
        return None
    extensions_end = min(end, offset + 2 + ((data[offset] << 8) | data[offset + 1]))
    offset += 2
    while offset + 4 <= extensions_end:
        ext_type = (data[offset] << 8) | data[offset + 1]
        ext_length = (data[offset + 2] << 8) | data[offset + 3]
        offset += 4
        if ext_type == _EXT_SERVER_NAME:
            return _server_name(data[offset : min(offset + ext_length, extensions_end)])
        offset += ext_length
    return None


def _server_name(ext: bytes) -> str | None:
    if len(ext) < 2:
        return None
    end = min(len(ext), 2 + ((ext[0] << 8) | ext[1]))
    offset = 2
    while offset + 3 <= end:
        name_type = ext[offset]
        length = (ext[offset + 1] << 8) | ext[offset + 2]
        offset += 3
        if offset + length > end:
            return None
        if name_type == 0 and 0 < length <= _MAX_SNI:
            return render_name(ext[offset : offset + length])
        offset += length
    return None
