"""What `shadowmap-agent run` loads at start: no library it does not use on every host.

cryptography (about 10 MB resident) loads only for a configured signing or update key: QUIC
Initials are opened with the libcrypto the ssl module already loaded. PyYAML loads only for a
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
AgentService(AgentSettings(state_dir=sys.argv[2]), catalogue=catalogue)
from agent.network.quic import InitialAssembler
assert InitialAssembler().add(bytes.fromhex(sys.argv[3])) == "chatgpt.com"
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_run_starts_and_reads_quic_without_cryptography_or_yaml(tmp_path: Path) -> None:
    from signatures import COMPILED_NAME, compile_catalogue, load_catalogue

    packaged = tmp_path / "data"  # the catalogue as the frozen agent ships it
    packaged.mkdir()
    (packaged / COMPILED_NAME).write_bytes(compile_catalogue(load_catalogue()))
    initial = quic_initials(client_hello("chatgpt.com"), dcid=bytes.fromhex("8394c8f03e515708"))
    result = subprocess.run(
        [sys.executable, "-c", START, str(packaged), str(tmp_path / "state"), initial[0].hex()],
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
