"""Compile the capture filter with libpcap (a small ctypes binding of our own) and attach it.

Only four libpcap functions are called (open a dead handle, compile, free, close), so the agent
ships no packet library: libpcap itself is the system's (libpcap0.8 on Debian, libpcap on RPM
systems, the OS's own on macOS, Npcap's wpcap.dll on Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
import sys
from functools import cache

from agent.network.errors import CaptureUnavailable

DLT_RAW = 12  # packets start at the IP header, as a SOCK_DGRAM packet socket delivers them
SO_ATTACH_FILTER = 26
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF

# Names tried when ctypes.util.find_library finds nothing (it needs ldconfig, which a frozen
# agent in a minimal container may lack).
_LIBRARY_NAMES = {
    "linux": ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so"),
    "darwin": ("/usr/lib/libpcap.A.dylib", "libpcap.dylib"),
    "win32": ("wpcap.dll",),
}

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


class _BpfInsn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class _BpfProgram(ctypes.Structure):
    _fields_ = (("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn)))


@cache
def _libpcap() -> ctypes.CDLL:
    """Load libpcap and declare the functions used; raise CaptureUnavailable without it."""
    found = ctypes.util.find_library("wpcap" if sys.platform == "win32" else "pcap")
    candidates = ((found,) if found else ()) + _LIBRARY_NAMES.get(sys.platform, ("libpcap.so",))
    library: ctypes.CDLL | None = None
    for name in candidates:
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        break
    if library is None:
        raise CaptureUnavailable(
            "libpcap is needed to compile the capture filter (install libpcap0.8 or libpcap)"
        )
    library.pcap_open_dead.argtypes = (ctypes.c_int, ctypes.c_int)
    library.pcap_open_dead.restype = ctypes.c_void_p
    library.pcap_compile.argtypes = (
        ctypes.c_void_p,
        ctypes.POINTER(_BpfProgram),
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint32,
    )
    library.pcap_compile.restype = ctypes.c_int
    library.pcap_geterr.argtypes = (ctypes.c_void_p,)
    library.pcap_geterr.restype = ctypes.c_char_p
    library.pcap_freecode.argtypes = (ctypes.POINTER(_BpfProgram),)
    library.pcap_freecode.restype = None
    library.pcap_close.argtypes = (ctypes.c_void_p,)
    library.pcap_close.restype = None
    return library


def compile_filter(
    expression: str = CAPTURE_FILTER, linktype: int = DLT_RAW, snaplen: int = 65535
) -> list[Instruction]:
    """Compile a tcpdump filter expression to classic BPF instructions with libpcap.

    Raises CaptureUnavailable when libpcap is missing or rejects the expression.
    """
    pcap = _libpcap()
    handle = pcap.pcap_open_dead(linktype, snaplen)
    if not handle:
        raise CaptureUnavailable("libpcap could not open a compile handle")
    program = _BpfProgram()
    try:
        if (
            pcap.pcap_compile(
                handle, ctypes.byref(program), expression.encode(), 1, PCAP_NETMASK_UNKNOWN
            )
            != 0
        ):
            reason = (pcap.pcap_geterr(handle) or b"").decode(errors="replace")
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
        pcap.pcap_freecode(ctypes.byref(program))
    finally:
        pcap.pcap_close(handle)
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
