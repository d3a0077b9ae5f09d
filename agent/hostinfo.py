"""Describe this host for reports: name, OS, version, architecture."""

from __future__ import annotations

import platform

from agent.scanners.base import current_platform
from signatures import HostInfo


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


def _linux_pretty_name() -> str:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return ""
    return release.get("PRETTY_NAME", "")
