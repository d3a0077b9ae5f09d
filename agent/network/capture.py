"""Live capture of DNS and TLS/QUIC ClientHellos on Linux, filtered in the kernel.

A SOCK_DGRAM packet socket with an attached BPF program receives only DNS and ClientHello
packets (see :data:`agent.network.bpf.CAPTURE_FILTER`); a background thread parses them and
keeps only AI sightings. The agent's run loop calls :meth:`LiveCapture.drain` at each report.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from types import TracebackType

from agent.addressbook import AddressBook
from agent.network.bpf import CAPTURE_FILTER, attach_filter, compile_filter
from agent.network.errors import CaptureError, CapturePermissionError, CaptureUnavailable
from agent.network.observe import EVIDENCE, NetworkObserver, ObserverStats
from agent.network.packet import Defragmenter, decode_ipv4, decode_ipv6
from signatures import Finding, Matcher

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
_POLL_SECONDS = 0.25


class LiveCapture:
    """Capture DNS, TLS and QUIC ClientHellos on one interface (all when None)."""

    evidence = EVIDENCE

    def __init__(
        self,
        matcher: Matcher,
        *,
        interface: str | None = None,
        snaplen: int = 65535,
        receive_buffer: int = 4 * 1024 * 1024,
        address_book: AddressBook | None = None,
    ) -> None:
        self.interface = interface
        self._snaplen = snaplen
        self._receive_buffer = receive_buffer
        self._observer = NetworkObserver(matcher, source="live", address_book=address_book)
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failure: str | None = None

    @property
    def addresses(self) -> AddressBook:
        """The answer addresses of AI names seen so far, for attributing connections."""
        return self._observer.addresses

    @property
    def stats(self) -> ObserverStats:
        return self._observer.stats

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Open the packet socket, attach the filter and start the capture thread.

        Raises CapturePermissionError without CAP_NET_RAW, CaptureUnavailable off Linux or
        without libpcap, CaptureError when the interface does not exist.
        """
        if self._thread is not None:
            return
        if not sys.platform.startswith("linux") or not hasattr(socket, "AF_PACKET"):
            raise CaptureUnavailable("live DNS/SNI capture is implemented for Linux only")
        program = compile_filter(CAPTURE_FILTER)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise CapturePermissionError() from exc
        try:
            # Attach the filter before binding, so nothing unfiltered is ever queued.
            attach_filter(sock, program)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            if self.interface:
                sock.bind((self.interface, ETH_P_ALL))
            sock.settimeout(_POLL_SECONDS)
        except OSError as exc:
            sock.close()
            raise CaptureError(
                f"cannot capture on interface {self.interface!r}: {exc.strerror or exc}"
            ) from exc
        self._socket = sock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="shadowmap-capture", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the capture thread and close the socket; findings stay until drained."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def status(self) -> str:
        """Say how capture is doing, for the agent's health report."""
        if self.failure:
            return f"failed: {self.failure}"[:200]
        return "running" if self.running else "stopped"

    def drain(self) -> list[Finding]:
        """Return the findings observed since the last call, and forget them."""
        with self._lock:
            return self._observer.drain()

    def __enter__(self) -> LiveCapture:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        sock = self._socket
        assert sock is not None
        defrag = Defragmenter()
        observer = self._observer
        try:
            while not self._stopping.is_set():
                try:
                    packet, address = sock.recvfrom(self._snaplen)
                except TimeoutError:
                    continue
                except InterruptedError:
                    continue
                if address[2] == PACKET_OUTGOING and address[0] == "lo":
                    continue  # loopback shows every packet twice: keep the incoming copy
                if not packet:
                    continue
                version = packet[0] >> 4
                if version == 4:
                    segment = decode_ipv4(packet, 0, defrag)
                elif version == 6:
                    segment = decode_ipv6(packet, 0, defrag)
                else:
                    continue
                if segment is None:
                    continue
                with self._lock:
                    observer.feed(segment, time.time())
        except OSError as exc:  # the socket failed under us: record it, the agent carries on
            if not self._stopping.is_set():
                self.failure = f"capture stopped: {exc.strerror or exc}"
                log.warning("%s", self.failure)


def main(argv: list[str] | None = None) -> int:
    """Capture for a while and write the findings as JSON (for tests and benchmarks)."""
    import argparse
    import dataclasses
    import json

    from signatures import load_catalogue

    parser = argparse.ArgumentParser(prog="python -m agent.network.capture")
    parser.add_argument("--interface", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    capture = LiveCapture(Matcher(load_catalogue()), interface=args.interface)
    try:
        capture.start()
    except CaptureError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 3
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(args.seconds)
    capture.stop()
    document = {
        "findings": [finding.to_dict() for finding in capture.drain()],
        "stats": dataclasses.asdict(capture.stats),
    }
    sys.stdout.write(json.dumps(document) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


class UnavailableCapture:
    """Stands in for capture that could not start, so health reports say why."""

    evidence = EVIDENCE

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def status(self) -> str:
        return f"unavailable: {self.reason}"[:200]

    def drain(self) -> list[Finding]:
        return []

    def stop(self) -> None:
        """Nothing runs, so nothing stops."""
