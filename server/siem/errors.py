"""Errors of the SIEM output.

Exception tree::

    ServerError (server.errors)
     └── SiemError                 the SIEM output failed
          └── DestinationFailed    one destination did not take a batch (destination, reason)

OSError and ssl.SSLError from sockets and files are translated at the boundary
(server/siem/transport.py); the batch stays queued and is sent again after a backoff.
"""

from __future__ import annotations

from server.errors import ServerError


class SiemError(ServerError):
    pass


class DestinationFailed(SiemError):
    def __init__(self, destination: str, reason: str) -> None:
        self.destination = destination
        self.reason = reason
        super().__init__(f"SIEM destination {destination}: {reason}")
