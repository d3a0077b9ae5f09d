"""panva's oidc-provider (an OpenID Certified provider, from the npm registry) run with node on
127.0.0.1 for the single sign-on tests, and a scripted user agent that signs in at it.

The package is installed once into a cache folder the tests reuse
(``$SHADOWMAP_TEST_CACHE``, default ``~/.cache/shadowmap-tests``) with ``npm install``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from joserfc.jwk import KeySet, RSAKey

HERE = Path(__file__).resolve().parent
PACKAGE = "oidc-provider@9"


def cache_dir() -> Path:
    root = Path(os.environ.get("SHADOWMAP_TEST_CACHE", Path.home() / ".cache" / "shadowmap-tests"))
    return root / "npm-oidc-provider-9"


def install_oidc_provider() -> Path:
    """Install oidc-provider into the cache (once; a lock keeps parallel runs apart); return
    the path of its entry module."""
    folder = cache_dir()
    module = folder / "node_modules" / "oidc-provider" / "lib" / "index.js"
    if module.exists():
        return module
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install oidc-provider for the SSO tests")
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not module.exists():
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), PACKAGE],
                check=True,
                capture_output=True,
                timeout=600,
            )
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OidcProvider:
    """One provider process: its clients, accounts and signing keys."""

    clients: list[dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        module = install_oidc_provider()
        key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})
        env = {
            **os.environ,
            "OIDC_PROVIDER_MODULE": str(module),
            "PORT": str(self.port),
            "ISSUER": self.issuer,
            "CLIENTS": json.dumps(self.clients),
            "ACCOUNTS": json.dumps(self.accounts),
            "JWKS": json.dumps(KeySet([key]).as_dict(private=True)),
            "NODE_ENV": "test",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", str(HERE / "provider.mjs")], env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("oidc-provider stopped: " + self.log_path.read_text())
            try:
                answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("oidc-provider did not start: " + self.log_path.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text()


def sign_in_at_provider(
    authorization_url: str, *, login: str, redirect_prefix: str, agent: httpx.Client | None = None
) -> str:
    """Play the user at the provider's login form; return the URL the provider sends the
    browser back to (the relying party's callback with code and state), without calling it."""
    own = agent is None
    agent = agent or httpx.Client(timeout=10)
    try:
        url = authorization_url
        for _ in range(10):
            if url.startswith(redirect_prefix):
                return url
            answer = agent.get(url)
            if answer.status_code in (302, 303):
                url = urljoin(url, answer.headers["location"])
                continue
            form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', answer.text, re.S)
            assert form, answer.text[:500]
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
            if 'name="login"' in form.group(2):
                fields.update(login=login, password="any password")
            posted = agent.post(urljoin(url, form.group(1)), data=fields)
            assert posted.status_code in (302, 303), posted.text[:500]
            url = urljoin(url, posted.headers["location"])
        raise AssertionError("the provider did not send the browser back")
    finally:
        if own:
            agent.close()
