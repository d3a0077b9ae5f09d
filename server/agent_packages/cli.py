"""`shadowmap package`: build agent packages with the collector URL and secret baked in."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from server.agent_packages.build import (
    NEEDS_WINDOWS_RUNTIME,
    BakedSettings,
    Builder,
    PackageType,
)
from server.cli_support import Commands
from server.errors import PackagingError

REPO = Path(__file__).resolve().parents[2]


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def cmd_package(args: argparse.Namespace) -> int:
    baked = BakedSettings.from_files(
        server_url=args.server,
        enroll_secret_file=Path(args.enroll_secret_file),
        ca_file=Path(args.ca_file) if args.ca_file else None,
        tags=[tag for tag in (args.tags or "").split(",") if tag],
        update_key_file=Path(args.update_key) if args.update_key else None,
    )
    kinds = list(dict.fromkeys(PackageType(kind) for kind in args.type))
    if PackageType.MSI in kinds and not args.windows_runtime:
        raise PackagingError(NEEDS_WINDOWS_RUNTIME)
    output = Path(args.output)
    with tempfile.TemporaryDirectory(prefix="shadowmap-package-") as scratch:
        work = Path(args.work_dir) if args.work_dir else Path(scratch)
        builder = Builder(repo=Path(args.source), work_dir=work)
        for kind in kinds:
            built = builder.build(
                kind,
                baked,
                output,
                windows_runtime=Path(args.windows_runtime) if args.windows_runtime else None,
            )
            print(
                f"{built.kind.value:7} {built.path}  {_megabytes(built.size_bytes)} "
                f"(installed {_megabytes(built.installed_bytes)})"
            )
            for note in built.notes:
                print(f"        {note}")
    print(
        "the packages hold the enrollment secret: keep them where only your deployment "
        "tooling can read them"
    )
    return 0


def add_commands(commands: Commands) -> None:
    package = commands.add_parser(
        "package",
        help="build agent packages (deb, rpm, msi, pkg, zipapp) with settings baked in",
    )
    package.add_argument(
        "--type",
        action="append",
        required=True,
        choices=[kind.value for kind in PackageType],
        help="package type; repeat for several",
    )
    package.add_argument("--server", required=True, help="collector URL the agents report to")
    package.add_argument(
        "--enroll-secret-file",
        required=True,
        help="file holding the enrollment token (`shadowmap enroll-token create --quiet`)",
    )
    package.add_argument("--ca-file", help="PEM of the CA that signed the collector's certificate")
    package.add_argument("--tags", help="comma-separated host tags, e.g. pilot,finance")
    package.add_argument(
        "--update-key",
        help="Ed25519 public key (PEM) of `shadowmap agent-release` signatures; the agents "
        "install only updates it verifies",
    )
    package.add_argument(
        "--windows-runtime",
        help="for --type msi: CPython's Windows embeddable zip (python-3.11.x-embed-amd64.zip: "
        "your copy from python.org, or what scripts/windows-runtime.sh fetches from PyPI)",
    )
    package.add_argument("--output", default="dist", help="output folder (default: dist)")
    package.add_argument(
        "--work-dir", help="keep the build environment here between runs (faster rebuilds)"
    )
    package.add_argument(
        "--source", default=str(REPO), help="Shadowmap source checkout (default: this one)"
    )
    package.set_defaults(func=cmd_package)
