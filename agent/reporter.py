"""Talk to the collector over HTTP (httpx): enroll, and deliver reports.

The transport is injectable, so tests route requests into the server in-process.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx
import truststore

from agent.errors import CollectorRefused, CollectorUnreachable, ConfigError
from agent.identity import Credential
from signatures import HostInfo, Report

log = logging.getLogger("shadowmap.agent")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


# Sent with enrollment and every report, so the collector can tell cloned machines apart.
MACHINE_HEADER = "X-Shadowmap-Machine"


def _tls_verification(verify: bool | str) -> bool | ssl.SSLContext:
    """Return httpx's verify argument: a str pins the collector's CA (a PEM file).

    ``True`` verifies against the operating system's trust store (truststore: the CAs that
    update-ca-certificates, group policy or the macOS keychain installed), not a bundled list.
    Raises ConfigError naming ca_file when the file cannot be read as certificates.
    """
    if verify is True:
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not isinstance(verify, str):
        return verify
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("ca_file", f"cannot load CA certificates from {verify}: {exc}") from exc


class Reporter:
    """An HTTP client bound to one collector."""

    def __init__(
        self,
        server_url: str,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        machine_fingerprint: str = "",
    ) -> None:
        self.server_url = server_url.rstrip("/")
        if self.server_url.startswith("http://") and not _is_loopback(self.server_url):
            log.warning(
                "the collector %s is reached over plain http://: reports and the credential "
                "travel unencrypted; use https://",
                self.server_url,
            )
        self.machine_fingerprint = machine_fingerprint
        self._client = httpx.Client(
            base_url=self.server_url,
            verify=_tls_verification(verify),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "shadowmap-agent"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.post(path, **kwargs)
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"cannot reach the collector at {self.server_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text[:300]
            raise CollectorRefused(response.status_code, detail)
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise CollectorRefused(response.status_code, "answer is not JSON") from exc
        return body

    def enroll(
        self, *, token: str, agent_id: str, host: HostInfo, current: Credential | None = None
    ) -> Credential:
        """Exchange an enrollment token for this agent's credential.

        An agent id the collector knows enrolls again only with proof: ``current``, the
        credential it holds for this collector, is sent as that proof.
        """
        headers = {MACHINE_HEADER: self.machine_fingerprint} if self.machine_fingerprint else {}
        if current is not None and current.server_url.rstrip("/") == self.server_url:
            headers["Authorization"] = f"Bearer {current.secret}"
        body = self._post(
            "/api/v1/agents/enroll",
            json={"token": token, "agent_id": agent_id, "host": host.to_dict()},
            headers=headers,
        )
        return Credential(
            server_url=self.server_url, agent_id=body["agent_id"], secret=body["credential"]
        )

    def fetch_signatures(
        self, credential: Credential, *, etag: str | None = None
    ) -> tuple[bytes | None, str | None]:
        """Download the newest signed bundle; (None, etag) when the one we hold is current."""
        headers = {"Authorization": f"Bearer {credential.secret}"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = self._client.get("/api/v1/agents/signatures", headers=headers)
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"cannot reach the collector at {self.server_url}: {exc}"
            ) from exc
        if response.status_code == 304:
            return None, etag
        if response.status_code >= 400:
            raise CollectorRefused(response.status_code, response.text[:300])
        return response.content, response.headers.get("etag")

    def fetch_config(self, credential: Credential) -> dict[str, Any]:
        """Return the settings the collector pushes to its agents (organisation domains)."""
        try:
            response = self._client.get(
                "/api/v1/agents/config", headers={"Authorization": f"Bearer {credential.secret}"}
            )
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"cannot reach the collector at {self.server_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise CollectorRefused(response.status_code, response.text[:300])
        try:
            body = response.json()
        except ValueError as exc:
            raise CollectorRefused(response.status_code, "answer is not JSON") from exc
        return body if isinstance(body, dict) else {}

    def send(self, report: Report, credential: Credential) -> dict[str, Any]:
        """Deliver one report; a retried report id is acknowledged, not counted twice."""
        return self.send_body(report.to_json(), credential)

    def send_body(self, body: bytes, credential: Credential) -> dict[str, Any]:
        """Deliver one already serialized report (as kept in the spool)."""
        headers = {
            "Authorization": f"Bearer {credential.secret}",
            "Content-Type": "application/json",
        }
        if self.machine_fingerprint:
            headers[MACHINE_HEADER] = self.machine_fingerprint
        return self._post("/api/v1/agents/reports", content=body, headers=headers)

    def _get(self, path: str, credential: Credential, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.get(
                path, headers={"Authorization": f"Bearer {credential.secret}"}, **kwargs
            )
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"cannot reach the collector at {self.server_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise CollectorRefused(response.status_code, response.text[:300])
        return response

    def check_update(
        self, credential: Credential, *, platform: str, version: str, tags: str
    ) -> dict[str, Any] | None:
        """Ask for a newer agent release this agent is in the rollout of; None when none."""
        response = self._get(
            "/api/v1/agents/update",
            credential,
            params={"platform": platform, "version": version, "tags": tags},
        )
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError as exc:
            raise CollectorRefused(response.status_code, "answer is not JSON") from exc
        return body if isinstance(body, dict) else None

    def download(self, credential: Credential, path: str, *, limit: int) -> bytes:
        """Download a file the collector offered (an agent package), at most ``limit`` bytes."""
        if not path.startswith("/api/v1/agents/update/package/"):
            raise CollectorRefused(200, f"refusing to download from {path[:100]!r}")
        response = self._get(path, credential)
        if len(response.content) > limit:
            raise CollectorRefused(200, f"the package is larger than the signed {limit} bytes")
        return response.content

    def post_update_outcome(
        self, credential: Credential, *, platform: str, version: str, state: str, detail: str
    ) -> None:
        """Tell the collector this agent refused a release or rolled it back."""
        try:
            response = self._client.post(
                "/api/v1/agents/update/outcome",
                json={
                    "platform": platform,
                    "version": version,
                    "state": state,
                    "detail": detail[:500],
                },
                headers={"Authorization": f"Bearer {credential.secret}"},
            )
        except httpx.TransportError as exc:
            raise CollectorUnreachable(
                f"cannot reach the collector at {self.server_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise CollectorRefused(response.status_code, response.text[:300])
