"""Real HTTP receivers on loopback for the outbound tests: they record what they are sent and
answer a scripted status, a redirect, or hang until released."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A threaded HTTP server on 127.0.0.1 (or ``host``) that records each request.

    ``status`` is the answer; ``location`` makes it a redirect; ``hold`` (an Event) makes
    each request wait until it is set (at most ``hold_timeout`` seconds); ``on_request`` runs
    in the handler thread before the answer, while the sender waits for it; ``arrived`` is
    released once per request, after ``on_request``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []
        self.status = 200
        self.location: str | None = None
        self.hold: threading.Event | None = None
        self.hold_timeout = 30.0
        self.arrived = threading.Semaphore(0)
        self.on_request: Callable[[], None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                receiver.paths.append(self.path)
                if receiver.on_request is not None:
                    receiver.on_request()
                receiver.arrived.release()
                if receiver.hold is not None:
                    receiver.hold.wait(receiver.hold_timeout)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, 0), Handler)
        self.port: int = self.server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def by_path(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        """The requests sent to one path, in arrival order."""
        return [
            request for request, seen in zip(self.requests, self.paths, strict=True) if seen == path
        ]

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
