"""Shared fixtures of the scanner tests: the private test catalogue, real processes and sockets.

The shipped catalogue and its matcher are global fixtures (tests/conftest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from signatures import Matcher, load_catalogue
from tests.agent.scanners.helpers import FIXTURES, PROMPT, SECRET


@pytest.fixture(scope="session")
def test_matcher() -> Matcher:
    return Matcher(load_catalogue(FIXTURES / "catalogue"))


@pytest.fixture
def claude_like() -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose command line carries a catalogue marker, a key and a prompt."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(120)",
            "/usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js",
            "--api-key",
            SECRET,
            "-p",
            PROMPT,
            f"--token={SECRET}",
        ]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until the kernel shows the final command line
        try:
            if SECRET in " ".join(psutil.Process(proc.pid).cmdline()):
                break
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.02)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def process_named_ollama(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A real process called "ollama" listening on a port that no runtime claims."""
    link = tmp_path / "bin" / "ollama"
    link.parent.mkdir()
    os.symlink(os.path.realpath(sys.executable), link)
    code = (
        "import socket,sys,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen()\n"
        "print(s.getsockname()[1],flush=True)\ntime.sleep(120)"
    )
    proc = subprocess.Popen([str(link), "-I", "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    yield proc.pid, port
    proc.kill()
    proc.wait()
    proc.stdout.close()


@pytest.fixture
def connected() -> Iterator[int]:
    """A real TCP connection from this process to a local listener."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    yield port
    for sock in (client, accepted, server):
        sock.close()
