"""Installed Python and npm packages: fixture layouts on every OS, and real installs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.runner import run_scan, to_finding
from agent.scanners.base import ScanContext
from agent.scanners.packages import PackageScanner
from signatures import Matcher
from tests.agent.scanners.helpers import context, make_user, run, write


def dist_info(site: Path, name: str, version: str, requires: list[str] = ()) -> None:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {req}" for req in requires]
    # The body (a long description) is never read: put a fake requirement there to prove it.
    body = "\n\nRequires-Dist: not-a-header-anymore\n" + "x" * 100_000
    write(
        site / f"{name.replace('-', '_')}-{version}.dist-info" / "METADATA", "\n".join(lines) + body
    )


def node_package(node_modules: Path, name: str, version: str, **extra: object) -> None:
    write(node_modules / name / "package.json", {"name": name, "version": version, **extra})


def test_python_locations_on_each_layout(tmp_path: Path, matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    dist_info(tmp_path / "usr/lib/python3.11/site-packages", "requests", "2.31.0")
    dist_info(
        linux.home / ".local/lib/python3.12/site-packages",
        "openai",
        "1.40.0",
        ["httpx>=0.23", "pydantic (>=1.9)", "typing-extensions; python_version<'3.11'"],
    )
    dist_info(
        linux.home / "projects/chatbot/.venv/lib/python3.12/site-packages", "anthropic", "0.34.0"
    )
    dist_info(
        linux.home / ".pyenv/versions/3.10.14/lib/python3.10/site-packages",
        "langchain",
        "0.2.1",
        ["openai"],
    )
    dist_info(
        linux.home / "miniconda3/envs/ml/lib/python3.11/site-packages",
        "google-generativeai",
        "0.7.2",
    )
    write(
        linux.home / ".local/share/pipx/venvs/llm/lib/python3.12/site-packages/"
        "llm-0.13-py3.12.egg-info/PKG-INFO",
        "Name: llm\nVersion: 0.13\n",
    )
    mac = make_user(tmp_path, "bob", "darwin")
    dist_info(mac.home / "Library/Python/3.9/lib/python/site-packages", "mistralai", "1.0.0")
    win = make_user(tmp_path, "carol", "windows")
    dist_info(
        win.home / "AppData/Local/Programs/Python/Python312/Lib/site-packages",
        "transformers",
        "4.44.0",
    )
    dist_info(win.home / "work/agent/venv/Lib/site-packages", "ollama", "0.3.0")

    observations, errors = run(PackageScanner(), context(tmp_path, linux, mac, win))
    assert errors == []
    seen = {(o.indicator, o.user, o.evidence["environment"]) for o in observations}
    assert seen == {
        ("requests", None, "system"),
        ("openai", "alice", "user"),
        ("anthropic", "alice", "virtualenv"),
        ("langchain", "alice", "pyenv"),
        ("google_generativeai", "alice", "conda"),
        ("llm", "alice", "pipx"),
        ("mistralai", "bob", "user"),
        ("transformers", "carol", "user"),
        ("ollama", "carol", "virtualenv"),
    }
    openai = next(o for o in observations if o.indicator == "openai")
    assert openai.evidence["version"] == "1.40.0"
    assert openai.hints["dependencies"] == ["httpx", "pydantic", "typing-extensions"]

    result = run_scan(context(tmp_path, linux, mac, win), (PackageScanner(),), matcher)
    services = {(f.service_id, f.indicator) for f in result.findings}
    assert ("openai-api", "openai") in services
    assert ("anthropic-api", "anthropic") in services
    assert ("google-gemini-api", "google_generativeai") in services  # PEP 503 folding
    assert ("huggingface", "transformers") in services
    assert not any(f.indicator == "requests" for f in result.findings)


def test_node_locations_and_scoped_packages(tmp_path: Path, matcher: Matcher) -> None:
    linux = make_user(tmp_path, "alice", "linux")
    node_package(
        tmp_path / "usr/lib/node_modules",
        "@anthropic-ai/claude-code",
        "1.0.0",
        bin={"claude": "cli.js"},
    )
    node_package(
        linux.home / ".nvm/versions/node/v20.11.0/lib/node_modules",
        "@openai/codex",
        "0.1.0",
        bin={"codex": "bin/codex.js"},
    )
    node_package(
        linux.home / "src/webapp/node_modules", "openai", "4.0.0", dependencies={"node-fetch": "^2"}
    )
    node_package(linux.home / "src/webapp/node_modules", "left-pad", "1.3.0")
    write(linux.home / "src/webapp/node_modules/broken/package.json", "{oops")
    win = make_user(tmp_path, "carol", "windows")
    node_package(win.home / "AppData/Roaming/npm/node_modules", "@google/gemini-cli", "0.1.5")

    observations, errors = run(PackageScanner(), context(tmp_path, linux, win))
    assert [e.message for e in errors] == [errors[0].message]
    assert "malformed JSON" in errors[0].message
    seen = {(o.indicator, o.user, o.evidence["environment"]) for o in observations}
    assert seen == {
        ("@anthropic-ai/claude-code", None, "global"),
        ("@openai/codex", "alice", "global"),
        ("openai", "alice", "project"),
        ("left-pad", "alice", "project"),
        ("@google/gemini-cli", "carol", "global"),
    }
    claude = next(o for o in observations if o.indicator == "@anthropic-ai/claude-code")
    assert claude.evidence["commands"] == ["claude"]
    result = run_scan(context(tmp_path, linux, win), (PackageScanner(),), matcher)
    assert {f.service_id for f in result.findings} == {
        "anthropic-claude-code",
        "openai-codex-cli",
        "openai-api",
        "google-gemini-cli",
    }


def test_symlink_loops_and_unreadable_homes(tmp_path: Path) -> None:
    user = make_user(tmp_path, "alice", "linux")
    os.symlink(user.home / "loop", user.home / "loop")
    (user.home / "proj").mkdir()
    os.symlink(user.home / "proj", user.home / "proj" / "node_modules")  # points at itself
    site = user.home / ".local/lib/python3.12/site-packages"
    dist_info(site, "openai", "1.0.0")
    ghost = make_user(tmp_path, "ghost", "linux")
    shutil.rmtree(ghost.home)
    os.symlink(ghost.home, ghost.home)
    observations, errors = run(PackageScanner(), context(tmp_path, user, ghost))
    assert [o.indicator for o in observations] == ["openai"]
    assert [e.path for e in errors] == [str(ghost.home)]


@pytest.mark.slow
def test_real_packages_from_pypi_and_npm(tmp_path: Path, matcher: Matcher) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("needs npm")
    user = make_user(tmp_path, "alice", "linux")
    site = user.home / ".local/lib/python3.12/site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(site),
            "anthropic",
        ],
        check=True,
        timeout=240,
    )
    project = user.home / "code" / "bot"
    project.mkdir(parents=True)
    subprocess.run(
        [npm, "install", "--prefix", str(project), "--no-audit", "--no-fund", "--silent", "ollama"],
        check=True,
        timeout=240,
    )

    observations, errors = run(PackageScanner(), context(tmp_path, user))
    assert errors == []
    by_name = {o.indicator: o for o in observations}
    assert "anthropic" in by_name
    dependencies = by_name["anthropic"].hints["dependencies"]
    assert isinstance(dependencies, list)
    assert {"anyio", "pydantic"} <= set(dependencies)
    assert "boto3" not in dependencies  # only an extra's dependency
    assert by_name["ollama"].evidence["environment"] == "project"
    assert "whatwg-fetch" in by_name  # its dependency, installed alongside
    result = run_scan(context(tmp_path, user), (PackageScanner(),), matcher)
    assert {(f.service_id, f.indicator) for f in result.findings} >= {
        ("anthropic-api", "anthropic"),
        ("ollama", "ollama"),
    }


def test_long_metadata_headers_are_read_in_full(tmp_path: Path) -> None:
    user = make_user(tmp_path, "alice", "linux")
    site = user.home / ".local/lib/python3.12/site-packages"
    header = ["Name: big", "Version: 1"] + [f"Classifier: Topic :: {i}" for i in range(400)]
    write(
        site / "big-1.dist-info/METADATA",
        "\n".join([*header, "Requires-Dist: openai>=1"]) + "\n\nbody\nRequires-Dist: nope\n",
    )
    observations, errors = run(PackageScanner(), context(tmp_path, user))
    assert errors == []
    assert observations[0].hints["dependencies"] == ["openai"]


def pip_dist(site: Path, name: str, version: str, requires: list[str] = (), **markers: str) -> Path:
    """A distribution as pip leaves it: INSTALLER, and REQUESTED when the user asked for it."""
    dist_info(site, name, version, requires)
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    for marker, content in markers.items():
        write(folder / marker, content)
    return folder


def test_an_ai_cli_own_dependencies_are_its_not_separate_findings(
    tmp_path: Path, matcher: Matcher
) -> None:
    """llm pulls in the OpenAI SDK: one llm finding, not an llm and an OpenAI API one.

    The same SDK asked for by the user (REQUESTED), or pulled in by a package the catalogue
    does not know, is still reported.
    """
    user = make_user(tmp_path, "alice", "linux")
    tool = user.home / ".virtualenvs/tools/lib/python3.11/site-packages"
    pip_dist(tool, "llm", "0.36", ["openai>=1.0", "click"], INSTALLER="pip\n", REQUESTED="")
    pip_dist(tool, "openai", "2.5.0", ["httpx"], INSTALLER="pip\n")
    pip_dist(tool, "httpx", "0.28.1", INSTALLER="pip\n")
    pip_dist(tool, "click", "8.1.0", INSTALLER="pip\n")
    app = user.home / ".virtualenvs/app/lib/python3.11/site-packages"
    pip_dist(app, "billing-bot", "1.0", ["openai"], INSTALLER="pip\n", REQUESTED="")
    pip_dist(app, "openai", "2.5.0", INSTALLER="pip\n")
    mine = user.home / ".virtualenvs/mine/lib/python3.11/site-packages"
    pip_dist(mine, "llm", "0.36", ["openai"], INSTALLER="pip\n", REQUESTED="")
    pip_dist(mine, "openai", "2.5.0", INSTALLER="pip\n", REQUESTED="")

    ctx = context(tmp_path, user)
    observations, errors = run(PackageScanner(), ctx)

    assert errors == []
    required = {
        (str(o.evidence["path"]).split("/.virtualenvs/")[1].split("/")[0], o.indicator): (
            o.hints.get("required_by")
        )
        for o in observations
    }
    assert required[("tools", "openai")] == ["llm"]
    assert required[("tools", "httpx")] == ["llm"]
    assert required[("app", "openai")] == ["billing_bot"]
    assert required[("mine", "openai")] is None
    findings = [(o, to_finding(ctx, matcher, o)) for o in observations]
    found = sorted(
        (
            str(o.evidence["path"]).split("/.virtualenvs/")[1].split("/")[0],
            o.indicator,
            str(finding.service_id),
        )
        for o, finding in findings
        if finding is not None
    )
    assert found == [
        ("app", "billing_bot", "None"),  # a likely-AI candidate: it depends on an AI SDK
        ("app", "openai", "openai-api"),
        ("mine", "llm", "llm-cli"),
        ("mine", "openai", "openai-api"),
        ("tools", "llm", "llm-cli"),
    ]


def test_pipx_and_uv_receipts_name_what_was_asked_for(tmp_path: Path, matcher: Matcher) -> None:
    """uv marks every package REQUESTED; its receipt (and pipx's metadata) says the truth."""
    user = make_user(tmp_path, "alice", "linux")
    uv_tool = user.home / ".local/share/uv/tools/aider-chat"
    write(uv_tool / "uv-receipt.toml", '[tool]\nrequirements = [{ name = "aider-chat" }]\n')
    site = uv_tool / "lib/python3.11/site-packages"
    pip_dist(site, "aider-chat", "0.86.2", ["litellm", "openai"], INSTALLER="uv", REQUESTED="")
    pip_dist(site, "litellm", "1.81.0", ["openai"], INSTALLER="uv", REQUESTED="")
    pip_dist(site, "openai", "2.20.0", INSTALLER="uv", REQUESTED="")
    pipx = user.home / ".local/share/pipx/venvs/shell-gpt"
    write(
        pipx / "pipx_metadata.json",
        {"main_package": {"package": "shell-gpt"}, "injected_packages": {}},
    )
    pipx_site = pipx / "lib/python3.11/site-packages"
    pip_dist(pipx_site, "shell-gpt", "1.5.1", ["openai"], INSTALLER="uv", REQUESTED="")
    pip_dist(pipx_site, "openai", "2.54.0", INSTALLER="uv", REQUESTED="")

    result = run_scan(context(tmp_path, user), (PackageScanner(),), matcher)

    assert sorted((f.service_id, f.indicator) for f in result.findings) == [
        ("aider", "aider_chat"),
        ("shell-gpt", "shell_gpt"),
    ]


def test_a_project_hoisted_dependencies_belong_to_what_it_depends_on(
    tmp_path: Path, matcher: Matcher
) -> None:
    user = make_user(tmp_path, "alice", "linux")
    project = user.home / "code/agent"
    write(
        project / "package.json",
        {"name": "agent", "dependencies": {"@qwen-code/qwen-code": "*", "left-pad": "*"}},
    )
    modules = project / "node_modules"
    node_package(
        modules,
        "@qwen-code/qwen-code",
        "0.24.4",
        dependencies={"@google/genai": "^1", "openai": "^5"},
    )
    node_package(modules, "@google/genai", "1.2.0")
    node_package(modules, "openai", "5.0.0")
    node_package(modules, "left-pad", "1.3.0", dependencies={"@anthropic-ai/sdk": "*"})
    node_package(modules, "@anthropic-ai/sdk", "0.50.0")

    result = run_scan(context(tmp_path, user), (PackageScanner(),), matcher)

    assert sorted((str(f.service_id), f.indicator, f.heuristic) for f in result.findings) == [
        # Pulled in by a package the catalogue lacks: still the SDK's finding, and that
        # package is a likely-AI candidate of its own.
        ("None", "left-pad", "depends-on-ai-sdk:npm:@anthropic-ai/sdk"),
        ("anthropic-api", "@anthropic-ai/sdk", None),
        ("qwen-code", "@qwen-code/qwen-code", None),
    ]


def test_npmrc_prefixes_and_conda_listed_environments(tmp_path: Path, matcher: Matcher) -> None:
    user = make_user(tmp_path, "alice", "linux")
    write(user.home / ".npmrc", "registry=https://registry.npmjs.org/\nprefix = ~/tools/npm\n")
    node_package(user.home / "tools/npm/lib/node_modules", "@openai/codex", "0.171.0")
    write(tmp_path / "etc/npmrc", f"prefix={tmp_path}/opt/npm-global\n")
    node_package(tmp_path / "opt/npm-global/lib/node_modules", "@google/gemini-cli", "0.61.0")
    env = tmp_path / "data/envs/research"
    write(user.home / ".conda/environments.txt", f"# conda\n{env}\n/nonexistent/env\n")
    dist_info(env / "lib/python3.11/site-packages", "anthropic", "0.50.0")
    brew = tmp_path / "home/linuxbrew/.linuxbrew/Cellar/aider/0.86.2/libexec"
    dist_info(brew / "lib/python3.12/site-packages", "aider-chat", "0.86.2")

    observations, errors = run(PackageScanner(), context(tmp_path, user))

    assert errors == []
    found = {o.indicator: o.evidence["environment"] for o in observations}
    assert found == {
        "@openai/codex": "npm_prefix",
        "@google/gemini-cli": "npm_prefix",
        "anthropic": "conda",
        "aider_chat": "homebrew",
    }


def test_running_programs_environments_are_read_wherever_they_are(
    tmp_path: Path, matcher: Matcher
) -> None:
    """A live scan reads the site-packages of a running interpreter's own venv, once."""
    env = tmp_path / "srv/jobs/env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next(env.glob("lib/python3*/site-packages"))
    pip_dist(site, "anthropic", "0.50.0", INSTALLER="pip\n", REQUESTED="")
    proc = subprocess.Popen([str(env / "bin/python"), "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)
        observations, errors = run(PackageScanner(), ScanContext(users=()))
    finally:
        proc.kill()
        proc.wait()
    ours = [o for o in observations if str(site) in str(o.evidence["path"])]
    assert [(o.indicator, o.evidence["environment"]) for o in ours] == [("anthropic", "virtualenv")]
    assert not [e for e in errors if str(tmp_path) in str(e.path)]
