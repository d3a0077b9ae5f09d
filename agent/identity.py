"""The agent's own identity and credential, kept in its state directory with tight permissions.

The id is generated locally, once, so it survives reinstalls of the package (the state
directory is not part of the package).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from agent.errors import NotEnrolled

_IDENTITY = "identity.json"
_CREDENTIAL = "credential.json"


@dataclass(frozen=True, slots=True)
class Credential:
    server_url: str
    agent_id: str
    secret: str


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def agent_id(state_dir: Path) -> str:
    """Return this agent's id, creating it on first use."""
    path = state_dir / _IDENTITY
    try:
        return str(json.loads(path.read_text())["agent_id"])
    except FileNotFoundError:
        pass
    except (KeyError, ValueError):
        # A damaged identity file: keep it for inspection and start a new identity.
        path.replace(path.with_suffix(".corrupt"))
    new_id = str(uuid.uuid4())
    _write_private(path, json.dumps({"agent_id": new_id}))
    return new_id


def save_credential(state_dir: Path, credential: Credential) -> None:
    _write_private(
        state_dir / _CREDENTIAL,
        json.dumps(
            {
                "server_url": credential.server_url,
                "agent_id": credential.agent_id,
                "secret": credential.secret,
            }
        ),
    )


def load_credential(state_dir: Path) -> Credential:
    """Return the stored credential; raises NotEnrolled."""
    try:
        doc = json.loads((state_dir / _CREDENTIAL).read_text())
        return Credential(
            server_url=doc["server_url"], agent_id=doc["agent_id"], secret=doc["secret"]
        )
    except (FileNotFoundError, KeyError, ValueError):
        raise NotEnrolled(str(state_dir)) from None
