"""Local runtimes (real listening sockets, a real HTTP probe) and model files on disk."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.runtimes import LocalRuntimeScanner, ModelFileScanner, Runtime, http_probe
from signatures import Matcher, load_catalogue
from tests.agent.scanners.helpers import context, make_user, run, write


class _FakeOllama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/api/version":
            body = json.dumps({"version": "0.9.9"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def fake_ollama() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def _catalogue(tmp_path: Path, *ports: int) -> Matcher:
    folder = tmp_path / "catalogue"
    write(
        folder / "runtimes.yaml",
        (
            "services:\n  - id: test-ollama\n    name: Ollama\n    vendor: Tests\n"
            "    category: local_model_runtime\n"
            f"    indicators:\n      ports: [{', '.join(map(str, ports))}]\n"
            "    sources: [https://example.test]\n"
        ),
    )
    return Matcher(load_catalogue(folder))


def test_http_probe_reads_json_from_loopback(fake_ollama: int) -> None:
    assert http_probe(fake_ollama, "/api/version") == {"version": "0.9.9"}
    assert http_probe(fake_ollama, "/missing") is None


@pytest.mark.slow
def test_ports_are_reported_only_when_corroborated(
    tmp_path: Path,
    fake_ollama: int,
    silent_listener: int,
    process_named_ollama: tuple[int, int],
) -> None:
    named_pid, named_port = process_named_ollama
    runtimes = (
        Runtime(
            "ollama",
            fake_ollama,
            frozenset({"ollama"}),
            "/api/version",
            lambda doc: isinstance(doc, dict) and "version" in doc,
            "version",
        ),
        Runtime(
            "lm-studio",
            silent_listener,
            frozenset({"lm studio"}),
            "/v1/models",
            lambda doc: isinstance(doc, dict) and "data" in doc,
        ),
    )
    scanner = LocalRuntimeScanner(runtimes=runtimes)
    observations, errors = run(scanner, ScanContext())
    assert errors == []
    by_port = {o.indicator: o for o in observations}
    assert {str(fake_ollama), str(named_port)} <= set(by_port)
    assert str(silent_listener) not in by_port  # a port alone says nothing
    probed = by_port[str(fake_ollama)]
    assert probed.evidence["corroborated_by"] == ["http_probe"]
    assert probed.evidence["version"] == "0.9.9"
    assert probed.evidence["exposed"] is False
    assert probed.evidence["pid"] == os.getpid()
    named = by_port[str(named_port)]
    assert named.evidence["corroborated_by"] == ["process_name"]
    assert named.evidence["runtime"] == "ollama"
    assert named.evidence["pid"] == named_pid

    matcher = _catalogue(tmp_path, fake_ollama, named_port)
    result = run_scan(ScanContext(), (scanner,), matcher)
    assert {(f.indicator, f.service_id) for f in result.findings} == {
        (str(fake_ollama), "test-ollama"),
        (str(named_port), "test-ollama"),
    }


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(size)  # sparse: takes no disk, and the scanner never reads it


def test_model_files_and_runtime_data_dirs(tmp_path: Path, test_matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    manifests = linux.home / ".ollama/models/manifests/registry.ollama.ai"
    write(manifests / "library/llama3.2/latest", {"layers": []})
    write(manifests / "someone/coder/7b", {"layers": []})
    sparse(linux.home / ".ollama/models/blobs/sha256-abc", 5 * 1024 * 1024)
    sparse(linux.home / ".lmstudio/models/lmstudio-community/Qwen/qwen-7b-q4.gguf", 3 << 20)
    sparse(linux.home / "Downloads/mistral-7b.Q4_K_M.gguf", 4 << 20)
    sparse(linux.home / "Downloads/weights.safetensors", 2 << 20)
    sparse(linux.home / "Downloads/firmware.bin", 8 << 20)  # ambiguous outside a model folder
    sparse(linux.home / "Downloads/tiny.gguf", 1000)  # too small to be a model
    sparse(linux.home / ".cache/huggingface/hub/models--x--y/blobs/model.safetensors", 2 << 20)
    mac = make_user(tmp_path, "bob", "darwin")
    sparse(mac.home / "Library/Application Support/nomic.ai/GPT4All/orca.gguf", 2 << 20)
    write(
        tmp_path / "usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library/phi3/mini",
        {"layers": []},
    )

    observations, errors = run(ModelFileScanner(), context(tmp_path, linux, mac))
    assert errors == []
    runtimes = {(o.evidence["runtime"], o.user) for o in observations if o.kind.value == "runtime"}
    assert runtimes == {
        ("ollama", None),
        ("ollama", "alice"),
        ("lm-studio", "alice"),
        ("huggingface", "alice"),
        ("gpt4all", "bob"),
    }
    ollama = next(
        o
        for o in observations
        if o.kind.value == "runtime" and o.user == "alice" and o.evidence["runtime"] == "ollama"
    )
    assert ollama.evidence["models"] == ["llama3.2:latest", "someone/coder:7b"]
    models = {Path(o.indicator).name: o for o in observations if o.kind.value == "model_file"}
    assert set(models) == {
        "qwen-7b-q4.gguf",
        "mistral-7b.Q4_K_M.gguf",
        "weights.safetensors",
        "model.safetensors",
        "orca.gguf",
    }
    assert models["qwen-7b-q4.gguf"].evidence["size_bytes"] == 3 << 20
    assert models["qwen-7b-q4.gguf"].evidence["runtime"] == "lm-studio"
    assert models["mistral-7b.Q4_K_M.gguf"].evidence["format"] == "gguf"
    assert models["mistral-7b.Q4_K_M.gguf"].evidence["runtime"] is None

    result = run_scan(context(tmp_path, linux, mac), (ModelFileScanner(),), test_matcher)
    matched = {(f.kind.value, f.user) for f in result.findings}
    assert ("runtime", "alice") in matched and ("model_file", "alice") in matched


def test_deep_or_looping_model_trees_are_bounded(tmp_path: Path) -> None:
    user = make_user(tmp_path, "alice", "linux")
    models = user.home / ".lmstudio/models"
    deep = models
    for index in range(12):
        deep = deep / f"d{index}"
    sparse(deep / "too-deep.gguf", 2 << 20)
    os.symlink(models, models / "loop")
    started = time.monotonic()
    observations, errors = run(ModelFileScanner(), context(tmp_path, user))
    assert time.monotonic() - started < 5
    assert errors == []
    assert [o.kind.value for o in observations] == ["runtime"]
