"""Compile the capture filter with libpcap (through scapy's light bindings) and attach it.

Only scapy's ctypes bindings to libpcap are imported (a few MB), not scapy itself, whose
full import would cost more memory than the whole agent may use.
"""

from __future__ import annotations

import ctypes
import socket
import struct

from agent.network.errors import CaptureUnavailable

DLT_RAW = 12  # packets start at the IP header, as a SOCK_DGRAM packet socket delivers them
SO_ATTACH_FILTER = 26

# DNS over UDP and TCP; TLS handshake records to 443 (the ClientHello opens the stream);
# QUIC long-header packets to 443. IPv6 transport bytes are reached through ip6[] at fixed
# offsets, since libpcap's tcp[]/udp[] indexing covers IPv4 only.
CAPTURE_FILTER = (
    "(udp port 53) or (tcp port 53)"
    " or (ip and udp dst port 443 and udp[8] & 0xc0 = 0xc0)"
    " or (ip6 and udp dst port 443 and ip6[48] & 0xc0 = 0xc0)"
    " or (ip and tcp dst port 443 and tcp[((tcp[12] & 0xf0) >> 2)] = 0x16)"
    " or (ip6 and tcp dst port 443 and ip6[40 + ((ip6[52] & 0xf0) >> 2)] = 0x16)"
)

Instruction = tuple[int, int, int, int]  # (code, jt, jf, k)


def compile_filter(
    expression: str = CAPTURE_FILTER, linktype: int = DLT_RAW, snaplen: int = 65535
) -> list[Instruction]:
    """Compile a tcpdump filter expression to classic BPF instructions with libpcap.

    Raises CaptureUnavailable when libpcap is missing or rejects the expression.
    """
    try:
        from scapy.libs.structures import bpf_program
        from scapy.libs.winpcapy import (
            pcap_close,
            pcap_compile,
            pcap_freecode,
            pcap_geterr,
            pcap_open_dead,
        )
    except (ImportError, OSError) as exc:
        raise CaptureUnavailable(
            "libpcap is needed to compile the capture filter (install libpcap0.8)"
        ) from exc
    handle = pcap_open_dead(linktype, snaplen)
    if not handle:
        raise CaptureUnavailable("libpcap could not open a compile handle")
    program = bpf_program()
    try:
        if pcap_compile(handle, ctypes.byref(program), expression.encode(), 1, 0xFFFFFFFF) != 0:
            reason = ctypes.string_at(pcap_geterr(handle)).decode(errors="replace")
            raise CaptureUnavailable(f"libpcap rejected the capture filter: {reason}")
        instructions = [
            (
                program.bf_insns[index].code,
                program.bf_insns[index].jt,
                program.bf_insns[index].jf,
                program.bf_insns[index].k & 0xFFFFFFFF,
            )
            for index in range(program.bf_len)
        ]
        pcap_freecode(ctypes.byref(program))
    finally:
        pcap_close(handle)
    return instructions


def attach_filter(sock: socket.socket, instructions: list[Instruction]) -> None:
    """Attach classic BPF instructions to a packet socket (SO_ATTACH_FILTER)."""
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(code, len(code))
    program = struct.pack(
        "=HxxxxxxQ" if struct.calcsize("P") == 8 else "=HxxI",
        len(instructions),
        ctypes.addressof(buffer),
    )
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, program)
