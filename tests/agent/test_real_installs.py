"""Real AI command-line tools and SDKs, installed and run the way people do, found by a real scan.

The tier installs the most used AI CLIs from npm and PyPI into temporary prefixes exactly as
users do (``npm install -g --prefix``, ``pip`` into a virtualenv in an arbitrary folder,
``pipx install``, ``uv tool install``), starts the interactive ones as long-running processes
with no API key, each at its first prompt on a pseudo-terminal, installs AI SDKs into other
environments used by running scripts (a script that imports the SDK and sleeps), then runs
``shadowmap-agent scan --once --json`` as a subprocess and checks that each maps to its own
service with high confidence and that nothing else on the machine is newly flagged.

Nothing leaves this machine: every process the test starts runs inside a network namespace the
test creates with only a loopback interface (``ip netns add``; root needed), so the tools reach
no network at all, and no prompt is ever sent. Downloads come through npm's, pip's and uv's
normal caches (~/.npm, ~/.cache/pip, ~/.cache/uv), so a second run installs from the cache.
The test stops exactly the processes it started (and what they spawned), by pid.

    .venv/bin/python -m pytest tests/agent/test_real_installs.py -m slow -s   # prints the table
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.netns]

# How long a tool gets to reach its first prompt, and how long it must then stay up.
READY_SECONDS = 60.0
SETTLE_SECONDS = 8.0


@dataclass(frozen=True)
class Tool:
    """An AI CLI as users install it, and the service it must map to."""

    label: str
    service: str
    installer: str  # "npm" | "pip-venv" | "pipx" | "uv-tool"
    package: str
    command: str
    args: tuple[str, ...] = ()
    python: str = ""  # pip-venv/pipx: the interpreter to build the environment with
    home_files: tuple[tuple[str, str], ...] = ()  # files in its HOME before it starts


@dataclass(frozen=True)
class Sdk:
    """An AI SDK in its own environment, imported by a running script."""

    label: str
    service: str
    installer: str  # "pip-venv" | "uv-venv" | "npm-project"
    package: str
    script: str  # the script's source
    script_name: str


def _python312() -> str:
    found = shutil.which("python3.12")
    if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
        return found
    for candidate in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12")):
        return str(candidate)
    return ""


BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)

TOOLS = (
    # Claude Code waits at its onboarding screens on first run; a finished onboarding (what
    # ~/.claude.json holds after the first start) brings it to its folder-trust prompt instead,
    # without the connectivity check an offline first run fails on. No key is configured.
    Tool(
        "claude-code",
        "anthropic-claude-code",
        "npm",
        "@anthropic-ai/claude-code",
        "claude",
        home_files=((".claude.json", '{"hasCompletedOnboarding": true, "theme": "dark"}'),),
    ),
    Tool("codex", "openai-codex-cli", "npm", "@openai/codex", "codex"),
    Tool("gemini-cli", "google-gemini-cli", "npm", "@google/gemini-cli", "gemini"),
    Tool("qwen-code", "qwen-code", "npm", "@qwen-code/qwen-code", "qwen"),
    Tool("opencode", "opencode", "npm", "opencode-ai", "opencode"),
    Tool("copilot-cli", "github-copilot", "npm", "@github/copilot", "copilot"),
    Tool("amp", "amp", "npm", "@sourcegraph/amp", "amp"),
    Tool("continue-cli", "continue", "npm", "@continuedev/cli", "cn"),
    Tool("auggie", "auggie", "npm", "@augmentcode/auggie", "auggie"),
    Tool("aider", "aider", "uv-tool", "aider-chat", "aider", python=BASE_PYTHON),
    Tool("llm", "llm-cli", "pip-venv", "llm", "llm", args=("chat",), python=BASE_PYTHON),
    Tool("mistral-vibe", "mistral-vibe", "pipx", "mistral-vibe", "vibe", python=_python312()),
)

SDKS = (
    Sdk(
        "anthropic (pip venv)",
        "anthropic-api",
        "pip-venv",
        "anthropic",
        "import time\nimport anthropic\n\ntime.sleep(3600)\n",
        "summarise.py",
    ),
    Sdk(
        "google-genai (uv venv)",
        "google-gemini-api",
        "uv-venv",
        "google-genai",
        "import time\nfrom google import genai\n\ntime.sleep(3600)\n",
        "worker.py",
    ),
    Sdk(
        "openai (npm project)",
        "openai-api",
        "npm-project",
        "openai",
        'require("openai");\nsetInterval(() => {}, 1000);\n',
        "index.js",
    ),
    Sdk(
        "@mistralai/mistralai (npm project, ESM)",
        "mistral-api",
        "npm-project",
        "@mistralai/mistralai",
        'import("@mistralai/mistralai").then(() => setInterval(() => {}, 1000));\n',
        "server.js",
    ),
)


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root for the loopback-only network namespace"
    for tool in ("ip", "npm", "node"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        return "`ip netns` is not available here"
    for module in ("uv", "pipx"):
        if shutil.which(module, path=str(Path(sys.executable).parent)) is None:
            return f"{module} is not installed in the test environment (scripts/venv.sh dev)"
    return None


def _run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    done = subprocess.run(
        command,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )


@dataclass
class Installed:
    """Where a tool or SDK went, and the command or script that runs it."""

    label: str
    service: str
    root: Path  # everything it installed lives under here
    argv: list[str]
    cwd: Path
    home: Path
    tty: bool
    seconds: float = 0.0


def _tool_bin(venv_dir: Path) -> Path:
    return Path(venv_dir, "bin")


def install_tool(tool: Tool, base: Path) -> Installed:
    """Install one CLI into its own folder under ``base``, as its users do."""
    root = base / tool.label
    home = root / "home"
    home.mkdir(parents=True)
    for name, content in tool.home_files:
        (home / name).write_text(content)
    tools_bin = Path(sys.executable).parent
    if tool.installer == "npm":
        prefix = root / "prefix"
        _run(["npm", "install", "-g", "--prefix", str(prefix), tool.package])
        command = prefix / "bin" / tool.command
    elif tool.installer == "pip-venv":
        venv = root / "opt" / f"{tool.command}-env"  # an arbitrary folder, not a usual place
        _run([tool.python, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "pip"), "install", "--quiet", tool.package])
        command = venv / "bin" / tool.command
    elif tool.installer == "pipx":
        env = {"PIPX_HOME": str(root / "pipx"), "PIPX_BIN_DIR": str(root / "bin")}
        _run([str(tools_bin / "pipx"), "install", "--python", tool.python, tool.package], env=env)
        command = root / "bin" / tool.command
    elif tool.installer == "uv-tool":
        env = {
            "UV_TOOL_DIR": str(root / "uv-tools"),
            "UV_TOOL_BIN_DIR": str(root / "bin"),
            "UV_PYTHON_DOWNLOADS": "never",
        }
        _run(
            [str(tools_bin / "uv"), "tool", "install", "--python", tool.python, tool.package],
            env=env,
        )
        command = root / "bin" / tool.command
    else:
        raise AssertionError(tool.installer)
    assert command.exists(), f"{tool.label}: {command} was not installed"
    work = root / "work"
    work.mkdir()
    return Installed(
        tool.label, tool.service, root, [str(command), *tool.args], work, home, tty=True
    )


def install_sdk(sdk: Sdk, base: Path, index: int) -> Installed:
    """Install one SDK into an environment of its own, beside a script that imports it."""
    root = base / f"sdk-{index}"
    project = root / "srv" / f"app{index}"
    project.mkdir(parents=True)
    (project / sdk.script_name).write_text(sdk.script)
    tools_bin = Path(sys.executable).parent
    if sdk.installer == "pip-venv":
        venv = project / "env"
        _run([BASE_PYTHON, "-m", "venv", str(venv)])
        _run([str(venv / "bin" / "pip"), "install", "--quiet", sdk.package])
        argv = ["./env/bin/python", sdk.script_name]  # run from its folder, as people do
    elif sdk.installer == "uv-venv":
        venv = root / "venvs" / "worker"
        _run([str(tools_bin / "uv"), "venv", "--python", BASE_PYTHON, str(venv)])
        _run([str(tools_bin / "uv"), "pip", "install", "--python", str(venv), sdk.package])
        argv = [str(venv / "bin" / "python"), str(project / sdk.script_name)]
    elif sdk.installer == "npm-project":
        _run(["npm", "init", "-y"], cwd=project)
        _run(["npm", "install", sdk.package], cwd=project)
        argv = ["node", sdk.script_name]
    else:
        raise AssertionError(sdk.installer)
    return Installed(sdk.label, sdk.service, root, argv, project, root, tty=False)


class Terminal:
    """A pseudo-terminal whose output a thread keeps reading (so the tool never blocks)."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.output = bytearray()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.output.extend(data)
            del self.output[:-65536]

    def close(self) -> None:
        for descriptor in (self.master, self.slave):
            try:
                os.close(descriptor)
            except OSError:
                pass


@dataclass
class Started:
    item: Installed
    process: subprocess.Popen[bytes]
    terminal: Terminal | None
    descendants: dict[int, float] = field(default_factory=dict)  # pid -> create_time

    def text(self) -> str:
        if self.terminal is None:
            return ""
        raw = bytes(self.terminal.output).decode("utf-8", errors="replace")
        return "".join(char for char in raw if char.isprintable() or char == "\n")[-600:]

    def track(self) -> None:
        """Remember this process and everything it spawned (daemons included)."""
        try:
            parent = psutil.Process(self.process.pid)
            family = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for member in family:
            try:
                self.descendants.setdefault(member.pid, member.create_time())
            except psutil.NoSuchProcess:
                continue


def start(item: Installed, namespace: str) -> Started:
    """Start one program in the loopback-only namespace, with no API key in its environment."""
    env = {
        "PATH": f"{Path(item.argv[0]).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(item.home),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "NO_UPDATE_NOTIFIER": "1",
    }
    terminal = Terminal() if item.tty else None
    stdio = terminal.slave if terminal is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace, *item.argv],
        cwd=item.cwd,
        env=env,
        stdin=stdio,
        stdout=stdio,
        stderr=stdio,
        start_new_session=True,  # its own process group: stopped by that id, and only it
    )
    return Started(item, process, terminal)


def stop(started: list[Started], base: Path) -> None:
    """Stop exactly what the test started: each process, what it spawned, by pid."""
    victims: dict[int, float] = {}
    for run in started:
        run.track()
        victims.update(run.descendants)
    # Daemons that detached from their parent still run from the test's folders.
    for proc in psutil.process_iter(["pid", "exe", "cmdline", "create_time"]):
        text = f"{proc.info.get('exe') or ''} {' '.join(proc.info.get('cmdline') or [])}"
        if str(base) in text:
            victims.setdefault(proc.info["pid"], proc.info["create_time"])
    for pid, created in victims.items():
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) < 0.01:
                proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    for run in started:
        try:
            run.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if run.terminal is not None:
            run.terminal.close()


def scan() -> dict[str, object]:
    """Run the real agent scan of this machine, as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "agent", "scan", "--once", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document: dict[str, object] = json.loads(done.stdout)
    return document


def finding_key(finding: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(finding.get(key) or "") for key in ("kind", "service_id", "indicator", "user"))


@dataclass
class RealHost:
    items: list[Installed]
    started: list[Started]
    baseline: set[tuple[str, ...]]
    before: list[dict[str, object]]  # the findings of the scan before anything started
    findings: list[dict[str, object]]
    errors: list[dict[str, object]]
    base: Path
    timings: dict[str, float]
    pids: dict[int, str]  # pid -> label, every process the test started or they spawned

    def attributed(self, finding: dict[str, object]) -> str | None:
        """Return the label of the installed item a finding is about, if any."""
        evidence = finding.get("evidence")
        assert isinstance(evidence, dict)
        pid = evidence.get("pid")
        if isinstance(pid, int) and pid in self.pids:
            return self.pids[pid]
        for key in ("path", "package_path", "exe"):
            value = evidence.get(key)
            if not isinstance(value, str):
                continue
            for item in self.items:
                if value.startswith(str(item.root) + os.sep):
                    return item.label
        return None


@pytest.fixture(scope="module")
def real_host() -> Iterator[RealHost]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="shadowmap-real-"))
    namespace = f"smreal{os.getpid() % 100000}"
    started: list[Started] = []
    timings: dict[str, float] = {}
    try:
        began = time.perf_counter()
        items: list[Installed] = []
        for tool in TOOLS:
            if not tool.python and tool.installer in ("pipx", "pip-venv", "uv-tool"):
                continue  # no suitable interpreter here (mistral-vibe needs Python 3.12)
            moment = time.perf_counter()
            installed = install_tool(tool, base)
            installed.seconds = time.perf_counter() - moment
            items.append(installed)
        for index, sdk in enumerate(SDKS):
            moment = time.perf_counter()
            installed = install_sdk(sdk, base, index)
            installed.seconds = time.perf_counter() - moment
            items.append(installed)
        timings["install"] = time.perf_counter() - began
        subprocess.run(["ip", "netns", "add", namespace], check=True, capture_output=True)
        subprocess.run(
            ["ip", "-n", namespace, "link", "set", "lo", "up"], check=True, capture_output=True
        )
        links = subprocess.run(
            ["ip", "-n", namespace, "-o", "link"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        assert len(links) == 1 and ": lo:" in links[0], links  # loopback only: nothing leaves
        moment = time.perf_counter()
        before: list[dict[str, object]] = scan()["findings"]  # type: ignore[assignment]
        baseline = {finding_key(finding) for finding in before}
        timings["baseline_scan"] = time.perf_counter() - moment
        moment = time.perf_counter()
        started = [start(item, namespace) for item in items]
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if all(run.terminal is None or run.terminal.output for run in started):
                break
            time.sleep(0.5)
        time.sleep(SETTLE_SECONDS)
        for run in started:
            run.track()
        gone = [f"{run.item.label}: {run.text()}" for run in started if run.process.poll()]
        assert not gone, "exited instead of waiting at a prompt:\n" + "\n".join(gone)
        timings["start"] = time.perf_counter() - moment
        moment = time.perf_counter()
        document = scan()
        timings["scan"] = time.perf_counter() - moment
        for run in started:
            run.track()
        pids = {pid: run.item.label for run in started for pid in run.descendants}
        yield RealHost(
            items=items,
            started=started,
            baseline=baseline,
            before=before,
            findings=document["findings"],  # type: ignore[arg-type]
            errors=document["scanner_errors"],  # type: ignore[arg-type]
            base=base,
            timings=timings,
            pids=pids,
        )
    finally:
        stop(started, base)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _report(host: RealHost) -> str:
    lines = ["", "item | installed by | service found (confidence, kind) | install s"]
    for item in host.items:
        found = sorted(
            {
                f"{finding['service_id']} ({finding['confidence']}, {finding['kind']})"
                for finding in host.findings
                if host.attributed(finding) == item.label
            }
        )
        kind = next(
            (tool.installer for tool in TOOLS if tool.label == item.label),
            next((sdk.installer for sdk in SDKS if sdk.label == item.label), "?"),
        )
        lines.append(f"{item.label} | {kind} | {', '.join(found) or '-'} | {item.seconds:.1f}")
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in host.timings.items())
    lines.append(f"timings: {timings}")
    return "\n".join(lines)


ITEMS = [(tool.label, tool.service) for tool in TOOLS] + [(sdk.label, sdk.service) for sdk in SDKS]


@pytest.mark.parametrize(("label", "service"), ITEMS, ids=[label for label, _ in ITEMS])
def test_each_maps_to_its_own_service_with_high_confidence(
    real_host: RealHost, label: str, service: str
) -> None:
    if label not in {item.label for item in real_host.items}:
        pytest.skip(f"{label}: no suitable interpreter on this machine")
    mine = [finding for finding in real_host.findings if real_host.attributed(finding) == label]
    high = [
        finding
        for finding in mine
        if finding["service_id"] == service and finding["confidence"] == "high"
    ]
    is_tool = any(tool.label == label for tool in TOOLS)
    wanted_kind = "process" if is_tool else "package"
    if not any(finding["kind"] == wanted_kind for finding in high):
        # One finding per kind, service, package and user: the same SDK already in use by the
        # same user elsewhere on this machine is that finding, and the test's merges into it.
        elsewhere = [
            finding["evidence"]
            for finding in real_host.before
            if finding["kind"] == wanted_kind and finding["service_id"] == service
        ]
        if elsewhere:
            pytest.skip(f"{label}: {service} is already in use on this machine: {elsewhere[0]}")
    assert any(finding["kind"] == wanted_kind for finding in high), (
        f"{label}: no high-confidence {wanted_kind} finding of {service}; found "
        f"{[(f['kind'], f['service_id'], f['confidence'], f['indicator']) for f in mine]}"
    )
    if is_tool:
        process = next(finding for finding in high if finding["kind"] == "process")
        evidence = process["evidence"]
        assert isinstance(evidence, dict)
        # The evidence names the package it runs, its version and where it lives.
        assert evidence["package"] and evidence["package_version"], evidence
        assert str(evidence["package_path"]).startswith(str(real_host.base)), evidence
    others = {finding["service_id"] for finding in mine} - {service}
    assert not others, f"{label} was also taken for {others}"


def test_nothing_else_on_the_machine_is_flagged(real_host: RealHost) -> None:
    print(_report(real_host))
    new = [
        finding for finding in real_host.findings if finding_key(finding) not in real_host.baseline
    ]
    strays = [
        (finding["kind"], finding["service_id"], finding["indicator"], finding["evidence"])
        for finding in new
        if real_host.attributed(finding) is None
    ]
    assert not strays, f"flagged, but none of what the test installed or started: {strays}"


def test_the_scan_reports_no_errors_for_what_the_test_installed(real_host: RealHost) -> None:
    ours = [
        error
        for error in real_host.errors
        if str(real_host.base) in f"{error.get('path') or ''} {error.get('message') or ''}"
    ]
    assert ours == []
