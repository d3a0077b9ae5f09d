"""--root scans report the image's own host: name, OS and version read from the image."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from agent import cli
from agent.errors import ConfigError
from agent.hostinfo import host_of, image_host, this_host
from tests.agent.scanners.helpers import write

REPO = Path(__file__).resolve().parents[2]


def linux_image(root: Path) -> Path:
    write(
        root / "etc/passwd",
        "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    )
    write(root / "etc/hostname", "# set by the installer\nbuild-runner-07\n")
    write(
        root / "usr/lib/os-release",
        'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    )
    os.symlink("../usr/lib/os-release", _parent(root / "etc/os-release"))
    # The image's own shell: the real ELF header of this machine's /bin/sh, via an absolute
    # symlink that must be read inside the image, not on the scanning machine.
    with open(os.path.realpath("/bin/sh"), "rb") as handle:
        write(root / "usr/bin/dash", handle.read(64))
    os.symlink("/usr/bin/dash", _parent(root / "bin/sh"))
    return root


def darwin_image(root: Path) -> Path:
    write(
        root / "System/Library/CoreServices/SystemVersion.plist",
        plistlib.dumps(
            {"ProductName": "macOS", "ProductVersion": "14.5", "ProductBuildVersion": "23F79"}
        ),
    )
    write(
        root / "Library/Preferences/SystemConfiguration/preferences.plist",
        plistlib.dumps(
            {
                "System": {
                    "System": {"ComputerName": "Ana's MacBook Pro"},
                    "Network": {"HostNames": {"LocalHostName": "anas-mbp"}},
                }
            },
            fmt=plistlib.FMT_BINARY,
        ),
    )
    (root / "Users/ana").mkdir(parents=True)
    return root


def windows_image(root: Path) -> Path:
    (root / "Windows/System32").mkdir(parents=True)
    (root / "Users/bob").mkdir(parents=True)
    return root


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def scan_json(*args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert cli.main(["scan", "--once", "--json", *args]) == 0
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


@pytest.mark.parametrize(
    ("build", "flags", "expected"),
    [
        (
            linux_image,
            [],
            {
                "hostname": "build-runner-07",
                "os": "linux",
                "os_version": "Debian GNU/Linux 12 (bookworm)",
            },
        ),
        (
            darwin_image,
            [],
            {"hostname": "anas-mbp", "os": "darwin", "os_version": "macOS 14.5", "arch": ""},
        ),
        (
            windows_image,
            ["--hostname", "WIN-FIN-042"],
            {"hostname": "WIN-FIN-042", "os": "windows", "os_version": "Windows", "arch": ""},
        ),
    ],
    ids=["linux", "darwin", "windows"],
)
def test_a_root_scan_reports_the_image_own_host(
    tmp_path: Path,
    build,
    flags: list[str],
    expected: dict[str, str],
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    image = build(tmp_path / "image")
    document = scan_json("--root", str(image), "--only", "packages", *flags, capsys=capsys)
    host = document["host"]
    assert isinstance(host, dict)
    assert {key: host[key] for key in expected} == expected
    assert host["hostname"] != this_host().hostname
    if build is linux_image:
        assert host["arch"] == this_host().arch  # read from the image's own /bin/sh


@pytest.mark.slow
def test_three_images_report_three_hosts_through_the_real_command(tmp_path: Path) -> None:
    hosts = []
    for build, flags in (
        (linux_image, []),
        (darwin_image, []),
        (windows_image, ["--hostname", "WIN-FIN-042"]),
    ):
        image = build(tmp_path / build.__name__)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent",
                "scan",
                "--once",
                "--json",
                "--only",
                "packages",
                "--root",
                str(image),
                *flags,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        host = json.loads(done.stdout)["host"]
        hosts.append((host["hostname"], host["os"], host["os_version"]))
    assert hosts == [
        ("build-runner-07", "linux", "Debian GNU/Linux 12 (bookworm)"),
        ("anas-mbp", "darwin", "macOS 14.5"),
        ("WIN-FIN-042", "windows", "Windows"),
    ]


def test_an_image_that_names_no_host_is_reported_under_its_folder_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    image = windows_image(tmp_path / "laptop 042")
    host = image_host(image)
    assert (host.hostname, host.os) == ("laptop-042", "windows")
    assert "give --hostname" in caplog.text


def test_hostile_or_broken_identity_files_leave_fields_empty(tmp_path: Path) -> None:
    image = tmp_path / "image"
    write(image / "etc/hostname", "x" * 300 + "\n")  # no host has such a name
    with open(_parent(image / "etc/os-release"), "wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # far past the cap: never read
    os.symlink("loop", _parent(image / "usr/bin/loop"))
    os.symlink("loop", image / "usr/bin/env")
    write(image / "bin/sh", b"#!not an ELF file")
    host = image_host(image, hostname="fallback")
    assert (host.hostname, host.os_version, host.arch) == ("fallback", "", "")
    mac = tmp_path / "mac"
    write(
        mac / "System/Library/CoreServices/SystemVersion.plist",
        b"<?xml version='1.0'?><plist><dict><key>",
    )
    write(mac / "Library/Preferences/SystemConfiguration/preferences.plist", b"bplist00\xff\xff")
    host = image_host(mac, hostname="mac-1")
    assert (host.os, host.os_version) == ("darwin", "")


def test_a_name_no_host_could_carry_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError):
        host_of(Path("/"), hostname="bad name; rm -rf /")
    assert cli.main(["scan", "--once", "--json", "--hostname", "../../x"]) == 1
    assert "--hostname" in capsys.readouterr().err


def test_the_live_host_is_this_machine() -> None:
    assert host_of(Path("/")) == this_host()
    assert host_of(Path("/"), hostname="renamed").hostname == "renamed"
