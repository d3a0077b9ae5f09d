"""The ``signatures`` command group, driven through a small argparse harness."""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import pytest

from server import signatures_cli
from signatures import default_data_dir, load_public_key, verify_bundle


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="shadowmap")
    signatures_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["signatures", "lint"], capsys)
    assert code == 0 and out.startswith("ok: ")


def test_lint_reports_file_entry_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(default_data_dir() / "openai.yaml", tmp_path / "openai.yaml")
    text = (
        (tmp_path / "openai.yaml")
        .read_text()
        .replace("category: coding_assistant", "category: x", 1)
    )
    (tmp_path / "openai.yaml").write_text(text)
    code, _, err = run(["signatures", "lint", "--catalogue-dir", str(tmp_path)], capsys)
    assert code == 1
    assert err.startswith("error: openai.yaml: openai-codex-cli: unknown category 'x'")


def test_lint_reports_every_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("openai.yaml", "anthropic.yaml", "google.yaml"):
        shutil.copy(default_data_dir() / name, tmp_path / name)
    (tmp_path / "anthropic.yaml").write_text("services: [\n")
    google = (tmp_path / "google.yaml").read_text().replace("sources:", "origins:", 1)
    (tmp_path / "google.yaml").write_text(google)
    code, _, err = run(["signatures", "lint", "--catalogue-dir", str(tmp_path)], capsys)
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith("error: anthropic.yaml: -: invalid YAML")
    assert lines[1].startswith("error: google.yaml: google-gemini: unknown key(s): origins")
    assert len(lines) == 2


def test_lint_reports_duplicates_across_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(default_data_dir() / "openai.yaml", tmp_path / "a.yaml")
    shutil.copy(default_data_dir() / "openai.yaml", tmp_path / "b.yaml")
    code, _, err = run(["signatures", "lint", "--catalogue-dir", str(tmp_path)], capsys)
    assert code == 1
    assert err.startswith("error: b.yaml: openai-chatgpt: duplicate id, first defined in a.yaml")


def test_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["signatures", "stats", "--json"], capsys)
    stats = json.loads(out)
    assert code == 0
    assert stats["services"] >= 500
    assert stats["services_with_several_indicator_kinds"] >= 150
    assert stats["by_category"]["llm_api_provider"] > 0
    assert stats["by_indicator_kind"]["browser_extension"] > 0
    code, text, _ = run(["signatures", "stats"], capsys)
    assert code == 0 and "by category:" in text and "by indicator kind:" in text


def test_keygen_build_and_match_against_the_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["signatures", "keygen", "--out", str(tmp_path / "keys")], capsys)[0] == 0
    assert run(["signatures", "keygen", "--out", str(tmp_path / "keys")], capsys)[0] == 1
    bundle = tmp_path / "bundle.json"
    code, out, _ = run(
        [
            "signatures",
            "build",
            "--key",
            str(tmp_path / "keys/signing-key.pem"),
            "--out",
            str(bundle),
            "--bundle-version",
            "3",
        ],
        capsys,
    )
    assert code == 0 and "wrote" in out
    public = load_public_key((tmp_path / "keys/signing-key.pub.pem").read_bytes())
    assert verify_bundle(bundle.read_bytes(), public).bundle_version == 3
    values = tmp_path / "domains.txt"
    values.write_text("chatgpt.com\n")
    code, out, _ = run(
        [
            "signatures",
            "match",
            "--kind",
            "domain",
            "--bundle",
            str(bundle),
            "--public-key",
            str(tmp_path / "keys/signing-key.pub.pem"),
            str(values),
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["service_id"] == "openai-chatgpt"


def test_build_with_a_bad_key_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "key.pem").write_text("not a key")
    code, _, err = run(
        [
            "signatures",
            "build",
            "--key",
            str(tmp_path / "key.pem"),
            "--out",
            str(tmp_path / "b.json"),
        ],
        capsys,
    )
    assert code == 1 and err.startswith("error:")
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize(
    ("kind", "lines", "expected"),
    [
        (
            "domain",
            ["chatgpt.com", "www.example.com", "llm-gateway.corp.example", "# comment", ""],
            [
                ("chatgpt.com", "openai-chatgpt", None),
                ("www.example.com", None, None),
                ("llm-gateway.corp.example", None, "dns-name-token:llm"),
            ],
        ),
        (
            "process",
            ["/usr/bin/node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", "/bin/bash"],
            [
                (
                    "/usr/bin/node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
                    "anthropic-claude-code",
                    None,
                ),
                ("/bin/bash", None, None),
            ],
        ),
        (
            "extension",
            [
                "kbfnbcaeplbcioakkpcpgfkobkghlhen",
                '{"value": "abcdefghijklmnopabcdefghijklmnop", "hints": {"host_permissions": ["https://api.openai.com/*"]}}',
            ],
            [
                ("kbfnbcaeplbcioakkpcpgfkobkghlhen", "grammarly", None),
                (
                    "abcdefghijklmnopabcdefghijklmnop",
                    None,
                    "extension-host-permission:api.openai.com",
                ),
            ],
        ),
        (
            "ide-extension",
            ["GitHub.copilot", "ms-toolsai.jupyter"],
            [("GitHub.copilot", "github-copilot", None), ("ms-toolsai.jupyter", None, None)],
        ),
        (
            "package",
            [
                "pypi:openai",
                "npm:@anthropic-ai/sdk",
                "langchain",
                "requests",
                '{"value": "pypi:acme", "hints": {"dependencies": ["anthropic"]}}',
            ],
            [
                ("pypi:openai", "openai-api", None),
                ("npm:@anthropic-ai/sdk", "anthropic-api", None),
                ("langchain", "langchain", None),
                ("requests", None, None),
                ("pypi:acme", None, "depends-on-ai-sdk:pypi:anthropic"),
            ],
        ),
    ],
)
def test_match_reads_stdin_and_prints_json_lines(
    kind: str,
    lines: list[str],
    expected: list[tuple[str, str | None, str | None]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = run(["signatures", "match", "--kind", kind, "-"], capsys)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["value"], r["service_id"], r["heuristic"]) for r in records] == expected


def test_match_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["signatures", "match", "--kind", "domain", "/nonexistent/file"], capsys)
    assert code == 1 and "error:" in err
