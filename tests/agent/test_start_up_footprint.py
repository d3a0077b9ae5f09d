"""What `shadowmap-agent run` loads at start: no library it does not use on every host.

cryptography (about 10 MB resident) loads only to verify a signature: QUIC Initials are opened
with the libcrypto the ssl module already loaded, and a configured update key is checked at
start without it. PyYAML loads only for a
catalogue read from YAML, which a packaged agent does not do.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from agent.watchdog import release_memory
from tests.packets import client_hello, quic_initials

REPO = Path(__file__).resolve().parents[2]

START = """
import json, sys
from pathlib import Path
import agent.cli, agent.service, agent.network
from agent.config import AgentSettings
from agent.service import AgentService
from signatures import load_catalogue
catalogue = load_catalogue(Path(sys.argv[1]))
settings = AgentSettings(state_dir=sys.argv[2], update_public_key=sys.argv[4])
assert AgentService(settings, catalogue=catalogue).updater is not None
from agent.network.quic import InitialAssembler
assert InitialAssembler().add(bytes.fromhex(sys.argv[3])) == "chatgpt.com"
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_run_starts_and_reads_quic_without_cryptography_or_yaml(tmp_path: Path) -> None:
    from signatures import COMPILED_NAME, compile_catalogue, generate_keypair, load_catalogue

    packaged = tmp_path / "data"  # the catalogue as the frozen agent ships it
    packaged.mkdir()
    (packaged / COMPILED_NAME).write_bytes(compile_catalogue(load_catalogue()))
    _, public_pem = generate_keypair()
    update_key = tmp_path / "update-key.pem"
    update_key.write_bytes(public_pem)
    initial = quic_initials(client_hello("chatgpt.com"), dcid=bytes.fromhex("8394c8f03e515708"))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            START,
            str(packaged),
            str(tmp_path / "state"),
            initial[0].hex(),
            str(update_key),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert "agent" in loaded and "signatures" in loaded
    assert not loaded & {"cryptography", "yaml", "collector", "server"}


def test_release_memory_collects_what_a_cycle_left_in_reference_cycles() -> None:
    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    gc.disable()  # only release_memory may collect it
    try:
        del first, second
        assert alive() is not None
        release_memory()
        assert alive() is None
    finally:
        gc.enable()


def test_an_unusable_update_key_is_a_config_error_at_start(tmp_path: Path) -> None:
    from agent.config import AgentSettings
    from agent.errors import ConfigError
    from agent.service import AgentService
    from signatures import Catalogue

    not_a_key = tmp_path / "update-key.pem"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n")
    for key_file in (not_a_key, tmp_path / "missing.pem"):
        settings = AgentSettings(state_dir=str(tmp_path / "state"), update_public_key=str(key_file))
        with pytest.raises(ConfigError, match="update_public_key"):
            AgentService(settings, catalogue=Catalogue(version="empty", services=()), scanners=[])
