"""Fixtures for network discovery tests: the shared captures and tshark."""

from __future__ import annotations

import collections
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PCAP_DIR = REPO.parent / "shared" / "data" / "pcaps"


@pytest.fixture(scope="session")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (apt-get install tshark); CI installs it")
    return path


def shared_pcaps() -> list[Path]:
    """Every capture in ../shared/data/pcaps (empty when the checkout has no shared/)."""
    if not PCAP_DIR.is_dir():
        return []
    return sorted(path for path in PCAP_DIR.iterdir() if path.suffix in (".pcap", ".pcapng"))


@pytest.fixture(scope="session")
def shared_tshark_names(tshark: str) -> dict[str, collections.Counter[str]]:
    """tshark's query names for every shared capture, computed in parallel once."""
    from concurrent.futures import ThreadPoolExecutor

    paths = shared_pcaps()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = pool.map(lambda path: tshark_query_names(tshark, path), paths)
        return {path.name: names for path, names in zip(paths, results, strict=True)}


def tshark_query_names(tshark: str, path: Path) -> collections.Counter[str]:
    """Return tshark's dns.qry.name values for every DNS query in a capture."""
    output = subprocess.run(
        [
            tshark,
            "-r",
            str(path),
            "-Y",
            "dns.flags.response==0",
            "-T",
            "fields",
            "-E",
            "aggregator=\x1f",
            "-e",
            "dns.qry.name",
        ],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    return collections.Counter(
        name for line in output.split("\n") if line for name in line.split("\x1f")
    )
