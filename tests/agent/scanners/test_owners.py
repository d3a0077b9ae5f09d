"""A process runs a package: layouts npm, pip, pipx and uv really make, and hostile ones.

The layouts are real files and symlinks; the processes of the last tests are real processes.
Every bad input (a broken symlink, a loop, a huge, truncated or hostile package.json or RECORD,
a process that exits while it is looked at) must end as that one item's problem: never an
exception, never a file read past its bound.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import psutil
import pytest

from agent.runner import run_scan
from agent.scanners.base import ScanContext
from agent.scanners.owners import (
    MAX_RECORD_BYTES,
    OwningPackage,
    PackageOwners,
    interpreter_kind,
    npm_spec_name,
    pypi_spec_name,
)
from agent.scanners.processes import ProcessScanner
from signatures import IndicatorKind, Matcher
from tests.agent.scanners.helpers import run, write


def npm_package(folder: Path, name: str, version: str = "1.0.0", **extra: object) -> Path:
    write(folder / "package.json", {"name": name, "version": version, **extra})
    return folder


def owned(owners: PackageOwners, cmdline: list[str], *, exe: str | None = None, cwd: str = "/"):  # type: ignore[no-untyped-def]
    return owners.of_process(
        pid=None, name=Path(cmdline[0]).name, exe=exe, cmdline=cmdline, cwd=cwd
    )


def names(packages: list[OwningPackage]) -> list[tuple[str, str, str | None]]:
    return [(package.ecosystem, package.name, package.version) for package in packages]


# -- npm ------------------------------------------------------------------------------------


def test_a_global_npm_cli_through_its_bin_symlink(tmp_path: Path) -> None:
    prefix = tmp_path / "opt/tools"
    package = npm_package(
        prefix / "lib/node_modules/@google/gemini-cli", "@google/gemini-cli", "0.61.0"
    )
    write(package / "bundle/gemini.js", "// the CLI")
    (prefix / "bin").mkdir(parents=True)
    os.symlink("../lib/node_modules/@google/gemini-cli/bundle/gemini.js", prefix / "bin/gemini")

    found = owned(PackageOwners(), ["node", str(prefix / "bin/gemini")])

    assert found.problems == []
    assert names(found.packages) == [("npm", "@google/gemini-cli", "0.61.0")]
    assert found.packages[0].path == str(package)
    assert [(e.ecosystem, e.path, e.kind) for e in found.environments] == [
        ("npm", str(prefix / "lib/node_modules"), "global")
    ]


def test_node_options_before_the_script_and_a_relative_script(tmp_path: Path) -> None:
    package = npm_package(
        tmp_path / "g/lib/node_modules/@qwen-code/qwen-code", "@qwen-code/qwen-code"
    )
    write(package / "cli.js", "")
    cmdline = ["/usr/bin/node", "--max-old-space-size=4096", "-r", "dotenv/config", "cli.js", "-y"]

    found = owned(PackageOwners(), cmdline, cwd=str(package))

    assert names(found.packages) == [("npm", "@qwen-code/qwen-code", "1.0.0")]


def test_a_native_binary_in_a_platform_package_maps_to_the_cli_that_carries_it(
    tmp_path: Path,
) -> None:
    outer = npm_package(tmp_path / "lib/node_modules/@openai/codex", "@openai/codex", "0.171.0")
    # npm installs the platform build under an alias; its package.json keeps the CLI's name.
    inner = npm_package(
        outer / "node_modules/@openai/codex-linux-x64", "@openai/codex", "0.171.0-linux-x64"
    )
    binary = write(inner / "vendor/x86_64-unknown-linux-musl/bin/codex", b"\x7fELF")

    found = owned(PackageOwners(), [str(binary)], exe=str(binary))

    assert names(found.packages) == [
        ("npm", "@openai/codex", "0.171.0-linux-x64"),
        ("npm", "@openai/codex", "0.171.0"),
    ]


def test_a_cli_binary_in_a_dependency_lists_the_inner_package_then_the_outer(
    tmp_path: Path, matcher: Matcher
) -> None:
    outer = npm_package(tmp_path / "lib/node_modules/@sourcegraph/amp", "@sourcegraph/amp")
    inner = npm_package(outer / "node_modules/@ampcode/cli", "@ampcode/cli")
    binary = write(inner / "bin/amp.exe", b"\x7fELF")

    found = owned(PackageOwners(), [str(tmp_path / "bin/amp")], exe=str(binary))

    assert [package.name for package in found.packages] == ["@ampcode/cli", "@sourcegraph/amp"]
    # The runner takes the first the catalogue knows: Amp, not a miss on the inner package.
    hits = [matcher.match_exact(IndicatorKind.NPM, package.name) for package in found.packages]
    assert [hit.service_id if hit else None for hit in hits] == [None, "amp"]


def test_a_project_script_names_its_project_and_its_node_modules(tmp_path: Path) -> None:
    project = npm_package(tmp_path / "srv/app", "billing-bot", dependencies={"openai": "^5"})
    write(project / "src/index.js", "")
    (project / "node_modules/openai").mkdir(parents=True)

    found = owned(PackageOwners(), ["node", "src/index.js"], cwd=str(project))

    assert names(found.packages) == [("npm", "billing-bot", "1.0.0")]
    assert [(e.path, e.kind) for e in found.environments] == [
        (str(project / "node_modules"), "project")
    ]


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["npx", "-y", "@openai/codex@0.171.0"], ("npm", "@openai/codex", "0.171.0")),
        (["npx", "--package", "@google/gemini-cli", "gemini"], ("npm", "@google/gemini-cli", None)),
        (["uvx", "--from", "aider-chat==0.86.2", "aider"], ("pypi", "aider-chat", "0.86.2")),
        (["uv", "tool", "run", "llm", "chat"], ("pypi", "llm", None)),
        (["bunx", "opencode-ai"], ("npm", "opencode-ai", None)),
        # npm titles its own process, which leaves one string where the arguments were.
        (["npm exec @qwen-code/qwen-code --yes", "", ""], ("npm", "@qwen-code/qwen-code", None)),
        (["pnpm", "dlx", "@github/copilot"], ("npm", "@github/copilot", None)),
        (
            ["deno", "run", "-A", "npm:@anthropic-ai/claude-code"],
            ("npm", "@anthropic-ai/claude-code", None),
        ),
    ],
)
def test_package_runners_name_the_package_they_run(
    cmdline: list[str], expected: tuple[str, str, str | None]
) -> None:
    found = owned(PackageOwners(), cmdline)
    assert names(found.packages)[0] == expected


def test_npx_through_node_names_the_package_after_npm_itself(tmp_path: Path) -> None:
    npm = npm_package(tmp_path / "usr/lib/node_modules/npm", "npm", "11.0.0")
    write(npm / "bin/npx-cli.js", "")
    (tmp_path / "usr/bin").mkdir(parents=True)
    os.symlink("../lib/node_modules/npm/bin/npx-cli.js", tmp_path / "usr/bin/npx")

    found = owned(PackageOwners(), ["node", str(tmp_path / "usr/bin/npx"), "-y", "@openai/codex"])

    assert [package.name for package in found.packages] == ["@openai/codex", "npm"]


# -- Python ---------------------------------------------------------------------------------


def venv(root: Path, version: str = "3.11") -> tuple[Path, Path]:
    """A virtualenv's layout (pyvenv.cfg, bin/, site-packages) without an interpreter copy."""
    write(root / "pyvenv.cfg", f"home = /usr/bin\nversion = {version}.7\n")
    site = root / f"lib/python{version}/site-packages"
    site.mkdir(parents=True)
    (root / "bin").mkdir()
    return root / "bin", site


def dist(site: Path, name: str, version: str, **files: str) -> Path:
    folder = site / f"{name}-{version}.dist-info"
    write(folder / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    for file_name, content in files.items():
        write(folder / file_name, content)
    return folder


def test_a_console_script_maps_to_the_distribution_whose_entry_points_install_it(
    tmp_path: Path,
) -> None:
    bin_dir, site = venv(tmp_path / "uv-tools/aider-chat")
    dist(site, "other", "1.0", **{"entry_points.txt": "[console_scripts]\nother = o:m\n"})
    folder = dist(
        site,
        "aider_chat",
        "0.86.2",
        **{"entry_points.txt": "[console_scripts]\naider = aider.main:main\n"},
    )
    write(bin_dir / "aider", "#!/usr/bin/python\n")
    (tmp_path / "bin").mkdir()
    os.symlink(bin_dir / "aider", tmp_path / "bin/aider")

    found = owned(PackageOwners(), [str(bin_dir / "python"), str(tmp_path / "bin/aider")])

    assert found.problems == []
    assert names(found.packages) == [("pypi", "aider_chat", "0.86.2")]
    assert found.packages[0].path == str(folder)
    assert [(e.path, e.kind) for e in found.environments] == [(str(site), "virtualenv")]


def test_a_native_binary_inside_site_packages_maps_through_record(tmp_path: Path) -> None:
    _, site = venv(tmp_path / "vibe-env", "3.12")
    for number in range(20):
        dist(site, f"dep{number}", "1.0", RECORD=f"dep{number}/__init__.py,,\n")
    dist(
        site,
        "mistral_vibe",
        "3.0.2",
        RECORD="vibe/__init__.py,sha256=x,1\nvibe/_bin/vibe-rs,sha256=y,2\n../../../bin/vibe,,\n",
    )
    binary = write(site / "vibe/_bin/vibe-rs", b"\x7fELF")

    found = owned(PackageOwners(), [str(binary)], exe=str(binary))

    assert names(found.packages) == [("pypi", "mistral_vibe", "3.0.2")]


def test_a_script_installed_as_data_maps_through_record(tmp_path: Path) -> None:
    bin_dir, site = venv(tmp_path / "env")
    dist(site, "ruff", "0.5.0", RECORD="ruff/__init__.py,,\n../../../bin/ruff,sha256=z,9\n")
    binary = write(bin_dir / "ruff", b"\x7fELF")

    found = owned(PackageOwners(), [str(binary)], exe=str(binary))

    assert names(found.packages) == [("pypi", "ruff", "0.5.0")]


def test_python_dash_m_maps_the_module_to_its_distribution(tmp_path: Path) -> None:
    bin_dir, site = venv(tmp_path / "env")
    dist(site, "open_webui", "0.6.0", **{"top_level.txt": "open_webui\n"})
    write(site / "open_webui/__main__.py", "")

    found = owned(PackageOwners(), [str(bin_dir / "python3.11"), "-u", "-m", "open_webui", "serve"])

    assert names(found.packages) == [("pypi", "open_webui", "0.6.0")]


def test_a_standard_library_module_or_an_os_script_reads_no_record(tmp_path: Path) -> None:
    """``python -m http.server`` and ``/usr/bin/<os script>`` belong to no distribution."""
    bin_dir, site = venv(tmp_path / "env")
    dist(site, "requests", "2.0", RECORD="requests/__init__.py,,\n")
    owners = PackageOwners(record_budget=0)  # any RECORD read would be a problem
    found = owned(owners, [str(bin_dir / "python"), "-m", "http.server", "8000"])
    assert found.packages == [] and found.problems == []
    system = tmp_path / "usr"
    write(system / "lib/python3.11/dist-packages/requests-2.0.dist-info/RECORD", "x,,\n")
    write(system / "bin/unattended-upgrade", "#!/usr/bin/python3\n")
    found = owned(owners, [str(system / "bin/python3.11"), str(system / "bin/unattended-upgrade")])
    assert found.packages == [] and found.problems == []


def test_inline_code_and_a_repl_have_no_script_but_keep_their_environment(
    tmp_path: Path,
) -> None:
    bin_dir, site = venv(tmp_path / "env")
    for cmdline in ([str(bin_dir / "python"), "-c", "print(1)"], [str(bin_dir / "python")]):
        found = owned(PackageOwners(), cmdline)
        assert found.packages == [] and found.problems == []
        assert [e.path for e in found.environments] == [str(site)]


def test_a_project_script_run_by_a_relative_interpreter_uses_that_venv(tmp_path: Path) -> None:
    project = tmp_path / "srv/app"
    _, site = venv(project / "env")
    write(project / "app.py", "")

    found = owned(PackageOwners(), ["./env/bin/python", "app.py"], cwd=str(project))

    assert found.packages == [] and found.problems == []
    assert [(e.path, e.kind) for e in found.environments] == [(str(site), "virtualenv")]


def test_spec_parsing_rejects_what_no_registry_would_accept() -> None:
    assert npm_spec_name("@openai/codex@latest") == ("@openai/codex", "latest")
    assert npm_spec_name("../../etc/passwd") is None
    assert npm_spec_name("x" * 300) is None
    assert pypi_spec_name("aider-chat[playwright]>=0.80") == ("aider-chat", None)
    assert pypi_spec_name("--weird") is None
    assert interpreter_kind("/usr/bin/python3.12") == "python"
    assert interpreter_kind("C:\\Python312\\pythonw.exe") == "python"
    assert interpreter_kind("/usr/bin/nodejs") == "node"
    assert interpreter_kind("/usr/bin/pythonista") is None


# -- bad input ------------------------------------------------------------------------------


def test_a_broken_symlink_is_that_process_problem(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    os.symlink(tmp_path / "gone/cli.js", tmp_path / "bin/tool")

    found = owned(PackageOwners(), ["node", str(tmp_path / "bin/tool")])

    assert found.packages == []
    assert [problem.reason for problem in found.problems] == [
        "missing (a broken symlink, or the file is gone)"
    ]


def test_a_symlink_loop_is_that_process_problem(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")

    found = owned(PackageOwners(), ["python3", str(tmp_path / "a")], exe=sys.executable)

    assert [problem.reason for problem in found.problems] == ["symlink loop"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"name": "@openai/co', "malformed JSON"),  # truncated
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),  # nesting past the parser
        (b'["not", "an", "object"]', "malformed JSON: top level is not an object"),
        (b"\xff\xfe\x00garbage", "malformed JSON"),
    ],
)
def test_a_truncated_or_hostile_package_json_is_that_process_problem(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    package = tmp_path / "lib/node_modules/tool"
    write(package / "package.json", content)
    write(package / "cli.js", "")

    found = owned(PackageOwners(), ["node", str(package / "cli.js")])

    assert found.packages == []
    assert len(found.problems) == 1 and found.problems[0].reason.startswith(reason)


def test_hostile_names_in_package_json_fall_back_to_the_folder(tmp_path: Path) -> None:
    package = tmp_path / "lib/node_modules/@openai/codex"
    write(package / "package.json", {"name": "../../../etc/passwd\n", "version": ["x"]})
    write(package / "bin/codex.js", "")

    found = owned(PackageOwners(), ["node", str(package / "bin/codex.js")])

    assert names(found.packages) == [("npm", "@openai/codex", None)]


def test_huge_package_json_and_record_are_never_read_past_their_bound(tmp_path: Path) -> None:
    package = tmp_path / "lib/node_modules/huge"
    (package).mkdir(parents=True)
    with open(package / "package.json", "wb") as handle:
        handle.truncate(512 * 1024 * 1024)  # sparse: reading it would allocate 512 MB
    write(package / "cli.js", "")
    _, site = venv(tmp_path / "env")
    record = dist(site, "bloat", "1.0") / "RECORD"
    with open(record, "wb") as handle:
        handle.truncate(512 * 1024 * 1024)
    binary = write(site / "bloat/_bin/tool", b"\x7fELF")
    owners = PackageOwners()

    tracemalloc.start()
    try:
        started = time.monotonic()
        node = owned(owners, ["node", str(package / "cli.js")])
        python = owned(owners, [str(binary)], exe=str(binary))
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [problem.reason for problem in node.problems] == [
        f"too large ({512 * 1024 * 1024} bytes, limit {1024 * 1024})"
    ]
    assert [problem.reason for problem in python.problems] == [
        f"RECORD larger than {MAX_RECORD_BYTES} bytes; read no further"
    ]
    assert peak < 1024 * 1024  # read in chunks: never the whole file in memory
    assert elapsed < 5


def test_the_record_budget_of_a_scan_is_shared_and_runs_out_cleanly(tmp_path: Path) -> None:
    _, site = venv(tmp_path / "env")
    for number in range(4):
        dist(
            site,
            f"pkg{number}",
            "1.0",
            RECORD="".join(f"pkg{number}/f{i}.py,,\n" for i in range(2000)),
        )
    binary = write(site / "nobody/_bin/tool", b"\x7fELF")

    found = PackageOwners(record_budget=30_000).of_process(
        pid=None, name="tool", exe=str(binary), cmdline=[str(binary)]
    )

    assert found.packages == []
    assert any("budget" in problem.reason for problem in found.problems)


def test_a_fifo_where_a_manifest_should_be_cannot_hang_the_scan(tmp_path: Path) -> None:
    package = tmp_path / "lib/node_modules/tool"
    package.mkdir(parents=True)
    os.mkfifo(package / "package.json")
    write(package / "cli.js", "")

    found = owned(PackageOwners(), ["node", str(package / "cli.js")])

    assert [problem.reason for problem in found.problems] == ["not a regular file"]


# -- real processes -------------------------------------------------------------------------


def test_a_process_that_exits_while_it_is_looked_at_is_that_process_problem(
    tmp_path: Path,
) -> None:
    write(tmp_path / "tool.py", "import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "tool.py"], cwd=tmp_path)
    try:
        info = psutil.Process(proc.pid)
        cmdline, exe, name = info.cmdline(), info.exe(), info.name()
    finally:
        proc.kill()
        proc.wait()

    found = PackageOwners().of_process(pid=proc.pid, name=name, exe=exe, cmdline=cmdline)

    assert found.packages == []
    assert [problem.reason for problem in found.problems] in (
        [],  # procfs said the process was gone before the working folder was asked for
        ["the process exited while it was looked at"],
    )


def test_real_interpreter_processes_map_to_their_packages(tmp_path: Path, matcher: Matcher) -> None:
    """A node CLI through its bin symlink and a Python CLI in a venv, as real processes."""
    prefix = tmp_path / "prefix"
    package = npm_package(prefix / "lib/node_modules/@openai/codex", "@openai/codex", "0.171.0")
    write(package / "bin/codex.js", "setInterval(() => {}, 1000);\n")
    (prefix / "bin").mkdir()
    os.symlink("../lib/node_modules/@openai/codex/bin/codex.js", prefix / "bin/codex")
    env = tmp_path / "opt/llm-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next(env.glob("lib/python3*/site-packages"))
    dist(site, "llm", "0.36", **{"entry_points.txt": "[console_scripts]\nllm = llm.cli:cli\n"})
    write(env / "bin/llm", "import time\ntime.sleep(60)\n")
    started = []
    node = shutil.which("node")
    if node is not None:
        started.append(subprocess.Popen([node, str(prefix / "bin/codex")]))
    started.append(subprocess.Popen([str(env / "bin/python"), str(env / "bin/llm"), "chat"]))
    try:
        _wait_for_cmdlines(started)
        observations, errors = run(ProcessScanner(), ScanContext())
        pids = {proc.pid for proc in started}
        ours = [o for o in observations if o.evidence["pid"] in pids]
        result = run_scan(ScanContext(), (_Only(ours),), matcher)
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
    assert not [error for error in errors if str(tmp_path) in str(error.path)]
    found = {(f.service_id, f.confidence.value, f.indicator) for f in result.findings}
    expected = {("llm-cli", "high", "llm")}
    if node is not None:
        expected.add(("openai-codex-cli", "high", "@openai/codex"))
    assert found == expected
    llm = next(f for f in result.findings if f.service_id == "llm-cli")
    assert llm.evidence["package_version"] == "0.36"
    assert llm.evidence["package_path"] == str(site / "llm-0.36.dist-info")
    assert llm.indicator_kind == "pypi"


class _Only:
    name = "processes"
    platforms = ProcessScanner.platforms
    live = True
    evidence = ProcessScanner.evidence

    def __init__(self, observations: list[object]) -> None:
        self.observations = observations

    def scan(self, ctx: ScanContext):  # type: ignore[no-untyped-def]
        yield from self.observations


def _wait_for_cmdlines(processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 10
    for proc in processes:
        while time.monotonic() < deadline:
            try:
                if len(psutil.Process(proc.pid).cmdline()) > 1:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)


UNPRIVILEGED_SCAN = """
import json, sys
from agent.scanners.owners import PackageOwners
from agent.scanners.packages import PackageRoot, PackageScanner
from pathlib import Path
private_site, public_site, script, interpreter = sys.argv[1:5]
found = PackageOwners().of_process(
    pid=None, name="python", exe=None, cmdline=[interpreter, script], cwd="/"
)
scanner = PackageScanner()
private = list(scanner._python(PackageRoot("pypi", Path(private_site), "virtualenv", None)))
public = list(scanner._python(PackageRoot("pypi", Path(public_site), "virtualenv", None)))
print(json.dumps({
    "problems": [problem.reason for problem in found.problems],
    "errors": [item.message for item in private if hasattr(item, "message")],
    "public": [item.indicator for item in public if hasattr(item, "indicator")],
}))
"""


def test_an_unreadable_environment_is_that_item_error() -> None:
    """Another user's private venv, scanned by an agent that may not read it (real permissions).

    Root reads everything, so the scan runs as ``nobody`` under the system interpreter.
    """
    system_python = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.path.exists(system_python):
        pytest.skip("needs root (to drop to nobody) and a system Python 3")
    same = "import sys; assert sys.version_info[:2] == (3, 11)"
    if subprocess.run([system_python, "-c", same]).returncode:
        pytest.skip("the system Python must match the agent's (3.11) to import its psutil")
    base = Path(tempfile.mkdtemp(prefix="shadowmap-perm-"))
    try:
        os.chmod(base, 0o755)  # noqa: S103 - nobody must reach the homes, not enter bob's
        (base / "home").mkdir(mode=0o755)
        private = base / "home/bob"
        bin_dir, site = venv(private / ".venv")
        dist(site, "openai", "2.0")
        write(bin_dir / "tool", "")
        os.chmod(private, 0o700)  # bob's home: nobody else may look inside
        public = base / "home/shared"
        _, public_site = venv(public / ".venv")
        dist(public_site, "anthropic", "1.0")
        for folder in [public, *public.rglob("*")]:
            os.chmod(folder, 0o755 if folder.is_dir() else 0o644)
        repo = Path(__file__).resolve().parents[3]
        site_packages = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
        done = subprocess.run(
            [
                system_python,
                "-c",
                UNPRIVILEGED_SCAN,
                str(site),
                str(public_site),
                str(bin_dir / "tool"),
                str(bin_dir / "python"),
            ],
            env={"PYTHONPATH": f"{repo}:{site_packages}", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            user=65534,
            group=65534,
            extra_groups=[],
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {
        "problems": ["unreadable: Permission denied"],
        "errors": ["unreadable: Permission denied"],
        "public": ["anthropic"],
    }
