"""The agent's own identity and credential, kept in its state directory with tight permissions.

The id is generated locally, once, so it survives reinstalls of the package (the state
directory is not part of the package). Beside it the agent keeps a machine fingerprint (a hash
of the OS machine id and the hostname): a state directory copied onto another machine (a cloned
virtual machine, a restored image) notices the mismatch and takes a new identity, and the
collector, when one agent id reports from two fingerprints, answers 409 and the agent rekeys.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
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


_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def machine_fingerprint() -> str:
    """Return a hash of what tells this machine from a clone: OS machine id and hostname."""
    machine_id = ""
    for name in _MACHINE_ID_FILES:
        try:
            machine_id = Path(name).read_text().strip()
        except OSError:
            continue
        if machine_id:
            break
    material = f"shadowmap-machine-v1\0{machine_id}\0{platform.node()}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def agent_id(state_dir: Path, *, machine: str | None = None) -> str:
    """Return this agent's id, creating it on first use.

    With ``machine`` (a fingerprint), an identity made on another machine is set aside and a
    new one is made: the state directory was copied, e.g. into a cloned virtual machine.
    """
    path = state_dir / _IDENTITY
    try:
        doc = json.loads(path.read_text())
        known = str(doc["agent_id"])
        recorded = doc.get("machine")
        if machine is None or recorded in (None, machine):
            if machine is not None and recorded is None:
                _write_private(path, json.dumps({"agent_id": known, "machine": machine}))
            return known
        rekey(state_dir)
    except FileNotFoundError:
        pass
    except (KeyError, ValueError, TypeError):
        # A damaged identity file: keep it for inspection and start a new identity.
        path.replace(path.with_suffix(".corrupt"))
    new_id = str(uuid.uuid4())
    doc = {"agent_id": new_id} if machine is None else {"agent_id": new_id, "machine": machine}
    _write_private(path, json.dumps(doc))
    return new_id


def rekey(state_dir: Path) -> None:
    """Set the identity and credential aside, so the next agent_id() makes a new identity."""
    for name in (_IDENTITY, _CREDENTIAL):
        path = state_dir / name
        if path.exists():
            path.replace(path.with_suffix(".previous"))


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


def forget_credential(state_dir: Path) -> None:
    """Delete the stored credential (the collector refused it), so the agent enrolls again."""
    (state_dir / _CREDENTIAL).unlink(missing_ok=True)


def load_credential(state_dir: Path) -> Credential:
    """Return the stored credential; raises NotEnrolled."""
    try:
        doc = json.loads((state_dir / _CREDENTIAL).read_text())
        return Credential(
            server_url=doc["server_url"], agent_id=doc["agent_id"], secret=doc["secret"]
        )
    except (FileNotFoundError, KeyError, ValueError):
        raise NotEnrolled(str(state_dir)) from None
