"""Describe the host a scan looks at for reports: name, OS, version, architecture.

That is this machine for a live scan, and the image's own identity for a ``--root`` scan of a
mounted disk image: Linux's ``etc/hostname`` and ``os-release``, macOS's ``SystemVersion.plist``
and the SystemConfiguration preferences, and for a Windows image (whose computer name lives in
its registry, which the agent does not parse) the name given with ``--hostname``. Every file is
read with a size cap; an unreadable or malformed one leaves that field empty.
"""

from __future__ import annotations

import logging
import os
import platform
import plistlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Literal
from xml.parsers.expat import ExpatError

from agent.errors import ConfigError
from agent.scanners.base import current_platform
from agent.scanners.files import Unreadable, read_bytes, read_head
from agent.users import platform_of_root
from signatures import HostInfo

log = logging.getLogger(__name__)

_MAX_SMALL = 64 * 1024
_MAX_PLIST = 1024 * 1024
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253})$")
# ELF e_machine values of the architectures an endpoint image may hold.
_ELF_MACHINES = {
    0x03: "i386",
    0x28: "arm",
    0x3E: "x86_64",
    0xB7: "aarch64",
    0xF3: "riscv64",
    0x15: "ppc64",
    0x16: "s390x",
}


def this_host() -> HostInfo:
    os_name = current_platform()
    if os_name == "linux":
        version = _linux_pretty_name() or platform.release()
    elif os_name == "darwin":
        version = platform.mac_ver()[0]
    else:
        version = platform.version()
    return HostInfo(
        hostname=platform.node() or "unknown",
        os=os_name,
        os_version=version[:255],
        arch=platform.machine()[:64],
    )


def host_of(root: Path = Path("/"), *, hostname: str | None = None) -> HostInfo:
    """Return the host a scan of ``root`` describes: this machine, or the image at ``root``.

    ``hostname`` (``--hostname``) overrides the name found; an image that names no host (a
    Windows image: its name is in its registry) is reported under its mount folder's name,
    with a warning. Raises ConfigError for a ``hostname`` no host could carry.
    """
    if hostname is not None and not _HOSTNAME.match(hostname):
        raise ConfigError("--hostname", f"{hostname!r} is not a host name")
    if root == Path("/"):
        host = this_host()
        return replace(host, hostname=hostname) if hostname else host
    return image_host(root, hostname=hostname)


def image_host(root: Path, *, hostname: str | None = None) -> HostInfo:
    """Return the identity a mounted image gives itself (see the module docstring)."""
    os_name = platform_of_root(root)
    if os_name == "darwin":
        found, version, arch = _darwin_name(root), _darwin_version(root), ""
    elif os_name == "windows":
        found, version, arch = "", "Windows", ""
    else:
        found, version, arch = _linux_name(root), _linux_version(root), _elf_arch(root)
    name = hostname or found
    if not name:
        # The folder the image is mounted at is the best name left; say so, and how to do better.
        name = re.sub(r"[^A-Za-z0-9.-]+", "-", root.resolve().name).strip("-.") or "image"
        where = "its registry" if os_name == "windows" else "no etc/hostname or preferences"
        log.warning(
            "the %s image at %s names no host (%s): reporting it as %r; give --hostname NAME",
            os_name,
            root,
            where,
            name,
        )
    return HostInfo(hostname=name[:255], os=os_name, os_version=version[:255], arch=arch)


def _first_line(path: Path) -> str:
    try:
        raw = read_bytes(path, _MAX_SMALL)
    except Unreadable:
        return ""
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return line if _HOSTNAME.match(line) else ""
    return ""


def _linux_name(root: Path) -> str:
    for rel in ("etc/hostname", "etc/HOSTNAME"):
        name = _first_line(root / rel)
        if name:
            return name
    fields = _key_values(root / "etc/sysconfig/network")  # older Red Hat images
    name = fields.get("HOSTNAME", "")
    return name if _HOSTNAME.match(name) else ""


def _linux_version(root: Path) -> str:
    for rel in ("etc/os-release", "usr/lib/os-release"):
        fields = _key_values(root / rel)
        if fields:
            return fields.get("PRETTY_NAME") or " ".join(
                part for part in (fields.get("NAME"), fields.get("VERSION")) if part
            )
    return ""


def _key_values(path: Path) -> dict[str, str]:
    """Parse a shell-style KEY=value file (os-release) without running anything."""
    try:
        raw = read_bytes(path, _MAX_SMALL)
    except Unreadable:
        return {}
    fields: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key] = value.replace('\\"', '"')[:255]
    return fields


def _elf_arch(root: Path) -> str:
    """Return the architecture of the image's own binaries, from an ELF header."""
    for rel in ("usr/bin/env", "bin/sh", "usr/bin/ls"):
        path = _in_image(root, rel)
        if path is None:
            continue
        try:
            head = read_head(path, 20)
        except Unreadable:
            continue
        if len(head) < 20 or head[:4] != b"\x7fELF":
            continue
        order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
        return _ELF_MACHINES.get(int.from_bytes(head[18:20], order), "")
    return ""


def _in_image(root: Path, rel: str) -> Path | None:
    """Follow symlinks inside an image, reading absolute targets under its root, not ours."""
    path = root / rel
    for _ in range(8):
        if not path.is_symlink():
            return path
        try:
            target = os.readlink(path)
        except OSError:
            return None
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    return None  # a loop, or a chain too long to be a system binary


def _plist(path: Path) -> object:
    try:
        raw = read_bytes(path, _MAX_PLIST)
    except Unreadable:
        return {}
    try:
        return plistlib.loads(raw)
    except (plistlib.InvalidFileException, ExpatError, ValueError, OverflowError, TypeError):
        return {}


def _darwin_version(root: Path) -> str:
    doc = _mapping(_plist(root / "System/Library/CoreServices/SystemVersion.plist"))
    name, version = doc.get("ProductName"), doc.get("ProductVersion")
    parts = [str(part) for part in (name, version) if isinstance(part, str)]
    return " ".join(parts)


def _darwin_name(root: Path) -> str:
    system = _mapping(_plist(root / "Library/Preferences/SystemConfiguration/preferences.plist"))
    general = _mapping(_mapping(system.get("System")).get("System"))
    names = _mapping(_mapping(_mapping(system.get("System")).get("Network")).get("HostNames"))
    for candidate in (
        general.get("HostName"),
        names.get("LocalHostName"),
        general.get("ComputerName"),
    ):
        if isinstance(candidate, str):
            cleaned = re.sub(r"[^A-Za-z0-9.-]+", "-", candidate.strip()).strip("-")
            if cleaned and _HOSTNAME.match(cleaned):
                return cleaned
    return ""


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _linux_pretty_name() -> str:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return ""
    return release.get("PRETTY_NAME", "")
