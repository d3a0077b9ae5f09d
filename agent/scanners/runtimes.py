"""Local AI runtimes (Ollama, LM Studio, llama.cpp, GPT4All, Jan, vLLM...) and model files.

Two scanners. ``local_runtimes`` is live: a listening TCP port is weak evidence on its own, so
it is reported only when corroborated by the owning process's name or by an HTTP probe of the
runtime's API on 127.0.0.1. ``model_files`` reads the disk: runtimes' data directories and
model files (GGUF, safetensors, ...) by location and size; a model file is never opened.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from socket import SOCK_STREAM
from typing import Any

import psutil

from agent.evidence import EvidenceField
from agent.scanners.base import LocalUser, Observation, ScanContext, ScanItem
from agent.scanners.connections import sockets as read_sockets
from agent.scanners.files import (
    Unreadable,
    is_dir,
    unix_time,
    usable_home,
    walk_files,
)
from signatures import EvidenceValue, FindingKind, IndicatorKind, ScannerError


@dataclass(frozen=True, slots=True)
class Runtime:
    """A local model server: its usual port, process names and a loopback API probe."""

    name: str
    port: int
    processes: frozenset[str]
    probe_path: str
    looks_right: Callable[[Any], bool]  # does the probe's JSON answer come from this runtime?
    version_key: str | None = None


def _is_models_list(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("data"), list)


RUNTIMES: tuple[Runtime, ...] = (
    Runtime(
        "ollama",
        11434,
        frozenset({"ollama", "ollama.exe", "ollama app"}),
        "/api/version",
        lambda doc: isinstance(doc, dict) and isinstance(doc.get("version"), str),
        "version",
    ),
    Runtime(
        "lm-studio",
        1234,
        frozenset({"lm studio", "lm-studio", "lms", "llmster"}),
        "/v1/models",
        _is_models_list,
    ),
    Runtime(
        "llama.cpp",
        8080,
        frozenset({"llama-server", "llama-server.exe", "llamafile"}),
        "/props",
        lambda doc: isinstance(doc, dict) and "default_generation_settings" in doc,
    ),
    Runtime("gpt4all", 4891, frozenset({"gpt4all"}), "/v1/models", _is_models_list),
    Runtime(
        "jan", 1337, frozenset({"jan", "cortex", "cortex-server"}), "/v1/models", _is_models_list
    ),
    Runtime(
        "vllm",
        8000,
        frozenset({"vllm"}),
        "/version",
        lambda doc: isinstance(doc, dict) and isinstance(doc.get("version"), str),
        "version",
    ),
    Runtime(
        "koboldcpp",
        5001,
        frozenset({"koboldcpp"}),
        "/api/v1/model",
        lambda doc: isinstance(doc, dict) and "result" in doc,
    ),
)

Probe = Callable[[int, str], Any]


def http_probe(port: int, path: str, timeout: float = 0.5) -> Any:
    """GET ``path`` on 127.0.0.1:``port`` and return its JSON, or None. Loopback only."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            return None
        body = response.read(64 * 1024)
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()


def _loopback_reachable(address: str) -> bool:
    wildcard = ("0.0.0.0", "::", "")  # noqa: S104 - listening on every address includes loopback
    return address in ("127.0.0.1", "::1", *wildcard) or address.startswith("127.")


class LocalRuntimeScanner:
    """Yield a runtime observation per listening port a local AI runtime serves."""

    name = "local_runtimes"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = True
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("runtime", "text", "Which runtime serves the port (ollama, lm-studio...)."),
        EvidenceField("address", "text", "The address it listens on."),
        EvidenceField("port", "integer", "The TCP port it listens on."),
        EvidenceField("pid", "integer", "Id of the listening process.", volatile=True),
        EvidenceField("process", "text", "Name of the listening process."),
        EvidenceField("exe", "text", "Executable path of the listening process."),
        EvidenceField(
            "corroborated_by",
            "text list",
            "What confirmed the runtime: process_name, http_probe.",
        ),
        EvidenceField("version", "text", "The version its API reported."),
        EvidenceField("exposed", "boolean", "Whether it listens beyond loopback."),
    )

    def __init__(self, runtimes: tuple[Runtime, ...] = RUNTIMES, probe: Probe = http_probe) -> None:
        self.runtimes = runtimes
        self.probe = probe

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        try:
            sockets = ctx.shared("sockets", read_sockets)
        except (psutil.AccessDenied, OSError) as exc:
            yield ScannerError(scanner=self.name, message=f"cannot list sockets: {exc!r}")
            return
        by_port = {runtime.port: runtime for runtime in self.runtimes}
        by_process = {name: runtime for runtime in self.runtimes for name in runtime.processes}
        seen: set[tuple[str, int]] = set()
        for sock in sockets:
            if sock.type != SOCK_STREAM or sock.status != psutil.CONN_LISTEN or not sock.laddr:
                continue
            address, port = sock.laddr.ip, sock.laddr.port
            process, username, exe = _owner(sock.pid)
            folded = process.lower().removesuffix(".exe") if process else None
            runtime = by_process.get(folded) if folded else None
            corroborated: list[str] = []
            if runtime is not None:
                corroborated.append("process_name")
            else:
                runtime = by_port.get(port)
                if runtime is None:
                    continue
            if (runtime.name, port) in seen:
                continue
            version: str | None = None
            if _loopback_reachable(address):
                answer = self.probe(port, runtime.probe_path)
                if answer is not None and runtime.looks_right(answer):
                    corroborated.append("http_probe")
                    if runtime.version_key and isinstance(answer, dict):
                        value = answer.get(runtime.version_key)
                        version = value[:64] if isinstance(value, str) else None
            if not corroborated:
                continue  # a port alone says nothing: another program may use it
            seen.add((runtime.name, port))
            evidence: dict[str, EvidenceValue] = {
                "runtime": runtime.name,
                "address": address,
                "port": port,
                "pid": sock.pid,
                "process": process,
                "exe": exe,
                "corroborated_by": corroborated,
                "version": version,
                "exposed": address not in ("127.0.0.1", "::1") and not address.startswith("127."),
            }
            yield Observation(
                kind=FindingKind.RUNTIME,
                indicator_kind=IndicatorKind.PORT,
                indicator=str(port),
                user=username,
                evidence=evidence,
                hints={"runtime": runtime.name, "exe": exe},
            )


def _owner(pid: int | None) -> tuple[str | None, str | None, str | None]:
    if not pid:
        return None, None, None
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            name = proc.name()
            try:
                username: str | None = proc.username()
            except (psutil.AccessDenied, KeyError):
                username = None
            try:
                exe: str | None = proc.exe() or None
            except psutil.AccessDenied:
                exe = None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None, None, None
    return name, username, exe


# -- on disk -----------------------------------------------------------------------------------

MODEL_SUFFIXES: Mapping[str, str] = {
    ".gguf": "gguf",
    ".ggml": "ggml",
    ".safetensors": "safetensors",
    ".llamafile": "llamafile",
    ".mlmodel": "coreml",
    ".mlpackage": "coreml",
    ".onnx": "onnx",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".ckpt": "checkpoint",
    ".bin": "bin",
    ".tflite": "tflite",
}
_MIN_MODEL_BYTES = 1024 * 1024
# ".bin" and ".pt" are too common to mean a model outside a model directory.
_AMBIGUOUS = {".bin", ".pt", ".pth", ".ckpt", ".onnx", ".tflite"}


@dataclass(frozen=True, slots=True)
class DataDir:
    """Where a runtime keeps its models, relative to a home (or the scan root)."""

    runtime: str
    rel: str
    models: bool = True  # walk it for model files


DATA_DIRS: tuple[DataDir, ...] = (
    DataDir("ollama", ".ollama/models", models=False),
    DataDir("lm-studio", ".lmstudio/models"),
    DataDir("lm-studio", ".cache/lm-studio/models"),
    DataDir("gpt4all", ".local/share/nomic.ai/GPT4All"),
    DataDir("gpt4all", "Library/Application Support/nomic.ai/GPT4All"),
    DataDir("gpt4all", "AppData/Local/nomic.ai/GPT4All"),
    DataDir("jan", "jan/models"),
    DataDir("jan", ".local/share/Jan/data/models"),
    DataDir("jan", "Library/Application Support/Jan/data/models"),
    DataDir("jan", "AppData/Roaming/Jan/data/models"),
    DataDir("llama.cpp", ".cache/llama.cpp"),
    DataDir("llama.cpp", "Library/Caches/llama.cpp"),
    DataDir("llama.cpp", "AppData/Local/llama.cpp"),
    DataDir("huggingface", ".cache/huggingface/hub"),
)
SYSTEM_DATA_DIRS: tuple[DataDir, ...] = (
    DataDir("ollama", "usr/share/ollama/.ollama/models", models=False),
    DataDir("ollama", "var/lib/ollama/.ollama/models", models=False),
)
# Folders people drop downloaded models into: walked shallowly, unambiguous formats only.
LOOSE_DIRS: tuple[str, ...] = ("models", "Models", "Downloads", "llm", "llms")


class ModelFileScanner:
    """Yield local runtimes' data directories and model files (by location and size)."""

    name = "model_files"
    platforms = frozenset({"linux", "darwin", "windows"})
    live = False
    evidence: tuple[EvidenceField, ...] = (
        EvidenceField("runtime", "text", "The runtime whose data folder holds it, if any."),
        EvidenceField("path", "text", "Path of the data folder or model file."),
        EvidenceField("models", "text list", "Ollama models (name:tag) in a data folder."),
        EvidenceField("file_name", "text", "Model file name."),
        EvidenceField("format", "text", "Model format from the file extension (gguf...)."),
        EvidenceField("size_bytes", "integer", "Model file size."),
        EvidenceField(
            "modified_at",
            "timestamp",
            "Last modification time (changes whenever it is used or rewritten).",
            volatile=True,
        ),
    )

    def __init__(self, max_depth: int = 6, max_entries: int = 20_000) -> None:
        self.max_depth = max_depth
        self.max_entries = max_entries

    def scan(self, ctx: ScanContext) -> Iterator[ScanItem]:
        for data_dir in SYSTEM_DATA_DIRS:
            yield from self._data_dir(data_dir, ctx.path(data_dir.rel), None)
        for user in ctx.users:
            try:
                if not usable_home(user.home):
                    continue
            except Unreadable as problem:
                yield problem.to_error(self.name)
                continue
            for data_dir in DATA_DIRS:
                yield from self._data_dir(data_dir, user.home / data_dir.rel, user)
            for rel in LOOSE_DIRS:
                folder = user.home / rel
                if is_dir(folder):
                    yield from self._models(folder, None, user, loose=True, depth=2)

    def _data_dir(
        self, data_dir: DataDir, path: Path, user: LocalUser | None
    ) -> Iterator[ScanItem]:
        if not is_dir(path):
            return
        models: list[str] = []
        if data_dir.runtime == "ollama":
            models = _ollama_models(path)
        yield Observation(
            kind=FindingKind.RUNTIME,
            indicator_kind=IndicatorKind.INSTALL_PATH,
            indicator=str(path),
            user=user.name if user else None,
            evidence={"runtime": data_dir.runtime, "path": str(path), "models": models[:256]},
            hints={"runtime": data_dir.runtime},
        )
        if data_dir.models:
            yield from self._models(path, data_dir.runtime, user, loose=False, depth=self.max_depth)

    def _models(
        self, folder: Path, runtime: str | None, user: LocalUser | None, *, loose: bool, depth: int
    ) -> Iterator[ScanItem]:
        try:
            for path, info in walk_files(folder, max_depth=depth, max_entries=self.max_entries):
                suffix = path.suffix.lower()
                model_format = MODEL_SUFFIXES.get(suffix)
                if model_format is None or info.st_size < _MIN_MODEL_BYTES:
                    continue
                if loose and suffix in _AMBIGUOUS:
                    continue
                yield Observation(
                    kind=FindingKind.MODEL_FILE,
                    indicator_kind=IndicatorKind.INSTALL_PATH,
                    indicator=str(path),
                    user=user.name if user else None,
                    evidence={
                        "path": str(path),
                        "file_name": path.name,
                        "format": model_format,
                        "size_bytes": info.st_size,
                        "modified_at": unix_time(info.st_mtime),
                        "runtime": runtime,
                    },
                    hints={"format": model_format, "runtime": runtime},
                )
        except Unreadable as problem:
            yield problem.to_error(self.name)


def _ollama_models(models_dir: Path) -> list[str]:
    """Return "name:tag" for each Ollama manifest (small JSON files; blobs are never read)."""
    manifests = models_dir / "manifests"
    names: list[str] = []
    try:
        for path, _info in walk_files(manifests, max_depth=5, max_entries=5000):
            rel = path.relative_to(manifests).parts
            if len(rel) < 3:
                continue
            *repo, model, tag = rel
            namespace = repo[1] if len(repo) > 1 and repo[1] != "library" else None
            names.append(f"{namespace}/{model}:{tag}" if namespace else f"{model}:{tag}")
    except Unreadable:
        return []
    return sorted(names)
