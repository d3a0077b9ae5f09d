"""A real `shadowmap serve` process on a free loopback port, with an admin and a token."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e admin password"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_ALLOWANCE = 90  # seconds for a server to answer /healthz


def require_chromium() -> None:
    """Skip without Debian's chromium; under CI its absence is a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (scripts/system-deps.sh)")
        pytest.skip("Debian's chromium is not installed")


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[object]:
    """A page of real Chromium at desktop size (1360x900), for the journeys."""
    sync_api = pytest.importorskip("playwright.sync_api")
    require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        # Generous timeouts: the test machine also runs other suites (argon2 sign-in is slow).
        context.set_default_timeout(30_000)
        sync_api.expect.set_options(timeout=30_000)
        yield context.new_page()
        context.close()
        browser.close()


def run_cli(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    assert result.returncode == 0, f"{module} {args}: {result.stdout}\n{result.stderr}"
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: BinaryIO

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def enrollment_token(self) -> str:
        return run_cli(
            "server", "enroll-token", "create", "--quiet", "--data-dir", str(self.data_dir)
        ).stdout.strip()

    def signed_in_client(
        self, username: str = "admin", password: str = ADMIN_PASSWORD
    ) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30)
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        answer = client.post(
            "/login", data={"username": username, "password": password, "csrf": csrf.group(1)}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/inventory"
        return client


def start_server(
    data_dir: Path, *, database_url: str | None = None, port: int | None = None
) -> LiveServer:
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    log = (data_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server",
            "serve",
            *args,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    # It starts in ~3 s on a quiet machine; its imports alone took 17 s at load 8.
    deadline = time.monotonic() + STARTUP_ALLOWANCE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            raise RuntimeError((data_dir / f"server-{port}.log").read_text())
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveServer(url=url, data_dir=data_dir, process=process, log=log)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    log.close()
    raise RuntimeError(f"server did not start within {STARTUP_ALLOWANCE} s")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "server"
    run_cli("server", "db", "upgrade", "--data-dir", str(data_dir))
    run_cli(
        "server",
        "user",
        "create",
        "--username",
        "admin",
        "--role",
        "admin",
        "--password",
        ADMIN_PASSWORD,
        "--data-dir",
        str(data_dir),
    )
    server = start_server(data_dir)
    yield server
    server.stop()
