"""Benchmark a full endpoint scan: wall time and peak RSS of the agent process.

The host: 300 processes (spawned here), 20 browser profiles with 40 extensions each, 5 IDE
profiles, 2,000 installed packages, MCP configs, desktop entries and model files, all in a
synthetic tree under a temporary root. Each run scans in a fresh child process (so its peak
RSS is the agent's alone) with every built-in scanner, matching against the shipped catalogue.

Of the 300 processes, 200 are interpreter processes whose programs the process scanner
resolves to their packages: 100 ``node`` processes running scripts of npm packages (through
``bin`` symlinks, as a global install runs them), 80 ``python`` processes running console
scripts of virtualenvs (owners found through ``entry_points.txt``) and 20 native binaries
inside site-packages (owners found through RECORD). So that 200 interpreters do not need
gigabytes of memory, each is ``tail -f`` started under the interpreter's name and with the
command line an interpreter would have (``node /usr/bin/tool``, ``.venv/bin/python .venv/bin/tool``,
``site-packages/pkg/_bin/tool``): the agent sees what it sees of a real interpreter process.
The other 100 are plain ``sleep`` processes.

    /work/venv/bin/python bench/bench_scan.py [--runs 5] [--output bench/results/scan.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.5
TARGET_RSS_MB = 60.0
PROCESSES = 300
BROWSER_PROFILES = 20
EXTENSIONS_PER_PROFILE = 40
IDE_PROFILES = 5
EXTENSIONS_PER_IDE_PROFILE = 30
PYTHON_PACKAGES = 1200
NPM_PACKAGES = 800
NODE_PROCESSES = 100
PYTHON_SCRIPT_PROCESSES = 80
PACKAGED_BINARY_PROCESSES = 20
USER = "bench"


def _write(path: Path, content: str | dict[str, Any] | list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))


def _ext_id(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnop") for _ in range(32))


def build_tree(root: Path) -> dict[str, int]:
    """Write the synthetic host under ``root`` and return what it holds."""
    rng = random.Random(42)
    home = root / "home" / USER
    _write(
        root / "etc/passwd",
        f"root:x:0:0:root:/root:/bin/bash\n{USER}:x:1000:1000::/home/{USER}:/bin/bash\n",
    )
    counts = {
        "browser_profiles": 0,
        "browser_extensions": 0,
        "ide_profiles": 0,
        "ide_extensions": 0,
        "packages": 0,
    }
    # Browsers: Chrome 10 profiles, Edge 5, Brave 5, realistic preference sizes.
    browsers = [
        (".config/google-chrome", 10),
        (".config/microsoft-edge", 5),
        (".config/BraveSoftware/Brave-Browser", 5),
    ]
    filler = {
        f"site_engagement_{i}": {"score": rng.random(), "last": "13440222324978745"}
        for i in range(1500)
    }  # Preferences carry much more than extensions
    for rel, profiles in browsers:
        base = home / rel
        cache = {}
        for index in range(profiles):
            directory = "Default" if index == 0 else f"Profile {index}"
            cache[directory] = {"name": f"Person {index}"}
            profile = base / directory
            settings = {}
            for _ in range(EXTENSIONS_PER_PROFILE):
                ext_id = _ext_id(rng)
                version = f"{rng.randint(1, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 999)}"
                manifest = {
                    "manifest_version": 3,
                    "name": "__MSG_appName__",
                    "default_locale": "en",
                    "version": version,
                    "description": "x" * 300,
                    "permissions": ["storage", "tabs", "scripting", "activeTab"],
                    "host_permissions": ["https://*/*"],
                    "content_scripts": [{"matches": ["https://*/*"], "js": ["content.js"]}],
                    "background": {"service_worker": "sw.js"},
                    "icons": {size: f"icons/{size}.png" for size in ("16", "48", "128")},
                }
                ext_dir = profile / "Extensions" / ext_id / f"{version}_0"
                _write(ext_dir / "manifest.json", manifest)
                _write(
                    ext_dir / "_locales/en/messages.json",
                    {
                        "appName": {"message": f"Extension {ext_id[:6]}"},
                        **{f"msg{i}": {"message": "y" * 40} for i in range(60)},
                    },
                )
                settings[ext_id] = {
                    "path": f"{ext_id}/{version}_0",
                    "location": 1,
                    "from_webstore": True,
                    "first_install_time": "13440222324978745",
                    "disable_reasons": [],
                    "active_permissions": {
                        "api": ["storage", "tabs"],
                        "explicit_host": ["https://*/*"],
                    },
                    "granted_permissions": {"api": ["storage", "tabs"]},
                    "creation_flags": 9,
                    "was_installed_by_default": False,
                }
                counts["browser_extensions"] += 1
            _write(
                profile / "Secure Preferences",
                {"extensions": {"settings": settings}, "protection": {"macs": {"x": "0" * 64}}},
            )
            _write(
                profile / "Preferences",
                {"profile": {"name": f"Person {index}"}, "extensions": {"settings": {}}, **filler},
            )
            counts["browser_profiles"] += 1
        _write(base / "Local State", {"profile": {"info_cache": cache}})
    # IDEs: VS Code default + 2 named profiles, Cursor, Windsurf.
    ide_dirs = [
        home / ".vscode/extensions",
        home / ".cursor/extensions",
        home / ".windsurf/extensions",
    ]
    listings = [
        ide_dirs[0] / "extensions.json",
        ide_dirs[1] / "extensions.json",
        ide_dirs[2] / "extensions.json",
        home / ".config/Code/User/profiles/-1a2b/extensions.json",
        home / ".config/Code/User/profiles/-3c4d/extensions.json",
    ]
    for index, listing in enumerate(listings):
        folder = ide_dirs[min(index, 2)] if index < 3 else ide_dirs[0]
        entries = []
        for number in range(EXTENSIONS_PER_IDE_PROFILE):
            ext_id = f"publisher{number}.extension{index}-{number}"
            directory = folder / f"{ext_id}-1.0.{number}"
            _write(
                directory / "package.json",
                {
                    "name": ext_id.split(".")[1],
                    "displayName": f"Ext {number}",
                    "version": f"1.0.{number}",
                    "publisher": f"publisher{number}",
                    "categories": ["Other"],
                    "contributes": {"commands": [{"command": "x"}] * 20},
                },
            )
            entries.append(
                {
                    "identifier": {"id": ext_id},
                    "version": f"1.0.{number}",
                    "location": {"path": str(directory), "scheme": "file"},
                    "metadata": {"installedTimestamp": 1764201600000},
                }
            )
            counts["ide_extensions"] += 1
        _write(listing, entries)
        counts["ide_profiles"] += 1
    _write(
        home / ".config/Code/User/globalStorage/storage.json",
        {
            "userDataProfiles": [
                {"location": "-1a2b", "name": "Data"},
                {"location": "-3c4d", "name": "Web"},
            ]
        },
    )
    # Packages: Python in the system, the user site and three virtualenvs; npm global+project.
    sites = [
        root / "usr/lib/python3.11/site-packages",
        home / ".local/lib/python3.11/site-packages",
        home / "projects/api/.venv/lib/python3.11/site-packages",
        home / "projects/ml/.venv/lib/python3.11/site-packages",
        home / ".pyenv/versions/3.12.1/lib/python3.12/site-packages",
    ]
    ai_python = ["openai", "anthropic", "langchain", "transformers", "google_generativeai"]
    for site in sites[2:4]:
        _write(site.parents[2] / "pyvenv.cfg", "home = /usr/bin\nversion = 3.11.7\n")
    for number in range(PYTHON_PACKAGES):
        name = ai_python[number] if number < len(ai_python) else f"package_{number}"
        meta = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{number}.0\n"
            "Requires-Dist: requests\nRequires-Dist: pydantic>=2\n\n" + "d" * 4000
        )
        dist = sites[number % len(sites)] / f"{name}-1.{number}.0.dist-info"
        _write(dist / "METADATA", meta)
        if number % 4 == 0:  # a quarter install a command
            _write(dist / "entry_points.txt", f"[console_scripts]\ntool-{number} = {name}:main\n")
        _write(
            dist / "RECORD",
            "".join(f"{name}/module_{i}.py,sha256=x,100\n" for i in range(40))
            + f"{name}/_bin/tool-{number},sha256=y,9\n{dist.name}/METADATA,,\n",
        )
        counts["packages"] += 1
    node_roots = [
        root / "usr/lib/node_modules",
        home / "projects/web/node_modules",
        home / ".nvm/versions/node/v20.11.0/lib/node_modules",
    ]
    ai_npm = ["@anthropic-ai/claude-code", "@openai/codex", "openai", "@google/gemini-cli"]
    for number in range(NPM_PACKAGES):
        name = (
            ai_npm[number]
            if number < len(ai_npm)
            else (f"@scope{number % 20}/pkg-{number}" if number % 3 == 0 else f"pkg-{number}")
        )
        _write(
            node_roots[number % len(node_roots)] / name / "package.json",
            {
                "name": name,
                "version": f"2.{number}.0",
                "description": "z" * 200,
                "dependencies": {f"dep-{i}": "^1.0.0" for i in range(8)},
            },
        )
        counts["packages"] += 1
    # MCP configs, desktop entries, a model file.
    _write(
        home / ".config/Claude/claude_desktop_config.json",
        {
            "mcpServers": {
                f"server{i}": {
                    "command": "npx",
                    "args": ["-y", f"@acme/mcp-{i}"],
                    "env": {"TOKEN": "secret"},
                }
                for i in range(10)
            }
        },
    )
    _write(
        home / ".cursor/mcp.json",
        {"mcpServers": {"gh": {"command": "npx", "args": ["@modelcontextprotocol/server-github"]}}},
    )
    for number in range(150):
        _write(
            root / f"usr/share/applications/app{number}.desktop",
            f"[Desktop Entry]\nType=Application\nName=App {number}\nExec=/usr/bin/app{number}\n",
        )
    model = home / ".lmstudio/models/org/model/model-q4.gguf"
    model.parent.mkdir(parents=True, exist_ok=True)
    with open(model, "wb") as handle:
        handle.truncate(64 << 20)
    return counts


def _quiet(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def spawn_processes(root: Path, count: int) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` processes: interpreter-like ones running the tree's packages, and sleeps."""
    tail = shutil.which("tail") or "/usr/bin/tail"
    home = root / "home" / USER
    started: list[subprocess.Popen[bytes]] = []
    # node: scripts of the npm packages, through bin symlinks where a global install puts them.
    node_roots = [
        root / "usr/lib/node_modules",
        home / "projects/web/node_modules",
        home / ".nvm/versions/node/v20.11.0/lib/node_modules",
    ]
    packages = sorted(path.parent for base in node_roots for path in base.glob("**/package.json"))[
        :NODE_PROCESSES
    ]
    node = root / "usr/local/bin/node"
    node.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(tail, node)
    for index, package in enumerate(packages):
        script = package / "cli.js"
        script.write_text("// a CLI\n")
        link = root / "usr/bin" / f"tool-{index}"
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(script, link.parent), link)
        started.append(_quiet([str(node), "-f", str(link)]))
    # python: console scripts of the virtualenvs.
    python_sites = [
        (home / "projects/api/.venv", home / "projects/api/.venv/lib/python3.11/site-packages"),
        (home / "projects/ml/.venv", home / "projects/ml/.venv/lib/python3.11/site-packages"),
    ]
    scripts = []
    for prefix, site in python_sites:
        python = prefix / "bin/python3.11"
        python.parent.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            os.symlink(tail, python)
        for entry_points in sorted(site.glob("*.dist-info/entry_points.txt")):
            command = entry_points.read_text().splitlines()[1].split(" = ")[0]
            script = prefix / "bin" / command
            script.write_text("import sys\n")
            scripts.append((python, script))
    for python, script in scripts[:PYTHON_SCRIPT_PROCESSES]:
        started.append(_quiet([str(python), "-f", str(script)]))
    # native binaries inside site-packages (a Rust or Go CLI shipped in a wheel).
    records = sorted((home / "projects/ml/.venv").glob("lib/python3.11/site-packages/*/RECORD"))
    for record in records[:PACKAGED_BINARY_PROCESSES]:
        binary_line = record.read_text().splitlines()[-2].split(",")[0]
        binary = record.parents[1] / binary_line
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tail, binary)
        started.append(_quiet([str(binary), "-f", str(record)]))
    started += [subprocess.Popen(["sleep", "600"]) for _ in range(count - len(started))]
    return started


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(root: Path) -> None:
    """Scan once and print timings and peak RSS as JSON (runs in a fresh interpreter)."""
    started = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from agent.config import AgentSettings
    from agent.runner import run_scan
    from agent.scanners.base import ScanContext
    from agent.scanners.registry import build_scanners
    from agent.users import local_users
    from signatures import Matcher, load_catalogue

    catalogue = load_catalogue()
    matcher = Matcher(catalogue)
    scanners = build_scanners(AgentSettings(), catalogue)
    ready = time.perf_counter()
    cpu_ready = _cpu_seconds()
    ctx = ScanContext(root=root, users=local_users(root))
    per_scanner: dict[str, float] = {}
    per_scanner_cpu: dict[str, float] = {}
    findings = errors = 0
    for scanner in scanners:
        begin, begin_cpu = time.perf_counter(), _cpu_seconds()
        result = run_scan(ctx, (scanner,), matcher)
        per_scanner[scanner.name] = round(time.perf_counter() - begin, 4)
        per_scanner_cpu[scanner.name] = round(_cpu_seconds() - begin_cpu, 4)
        findings += len(result.findings)
        errors += len(result.errors)
    done = time.perf_counter()
    cpu_done = _cpu_seconds()
    observations = 0
    for scanner in scanners:
        observations += sum(1 for _ in scanner.scan(ctx))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "scan_seconds": round(done - ready, 4),
                "scan_cpu_seconds": round(cpu_done - cpu_ready, 4),
                "startup_seconds": round(ready - started, 4),
                "total_seconds": round(done - started, 4),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "per_scanner_seconds": per_scanner,
                "per_scanner_cpu_seconds": per_scanner_cpu,
                "findings": findings,
                "scanner_errors": errors,
                "observations": observations,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/scan.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="shadowmap-bench-") as temp:
        root = Path(temp)
        began = time.perf_counter()
        counts = build_tree(root)
        print(f"built synthetic host in {time.perf_counter() - began:.1f}s: {counts}")
        sleepers = spawn_processes(root, PROCESSES)
        try:
            time.sleep(0.5)
            runs = []
            for _ in range(args.runs):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(root)],
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                runs.append(json.loads(out.stdout))
                print(out.stdout.strip())
        finally:
            for sleeper in sleepers:
                sleeper.kill()
            for sleeper in sleepers:
                sleeper.wait()
    scan_times = [run["scan_seconds"] for run in runs]
    cpu_times = [run["scan_cpu_seconds"] for run in runs]
    totals = [run["total_seconds"] for run in runs]
    peaks = [run["peak_rss_mb"] for run in runs]
    summary = {
        "benchmark": "full endpoint scan (every built-in scanner, matched against the shipped "
        "catalogue)",
        "host": {
            "processes_spawned": PROCESSES,
            "interpreter_processes_resolved": NODE_PROCESSES
            + PYTHON_SCRIPT_PROCESSES
            + PACKAGED_BINARY_PROCESSES,
            **counts,
        },
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "runs": len(runs),
        "scan_seconds": {
            "median": statistics.median(scan_times),
            "min": min(scan_times),
            "max": max(scan_times),
        },
        "scan_cpu_seconds": {"median": statistics.median(cpu_times), "max": max(cpu_times)},
        "load_average_during_runs": [round(value, 2) for value in os.getloadavg()],
        "total_seconds_including_startup": {
            "median": statistics.median(totals),
            "max": max(totals),
        },
        "peak_rss_mb": {"median": statistics.median(peaks), "max": max(peaks)},
        "per_scanner_seconds_last_run": runs[-1]["per_scanner_seconds"],
        "per_scanner_cpu_seconds_last_run": runs[-1]["per_scanner_cpu_seconds"],
        "findings_last_run": runs[-1]["findings"],
        "observations_last_run": runs[-1]["observations"],
        "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB},
        "meets_targets": statistics.median(scan_times) <= TARGET_SECONDS
        and max(peaks) <= TARGET_RSS_MB,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
