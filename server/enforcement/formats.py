"""Render an enforcement policy (server.enforcement.policy) in each tool's own format. Pure
functions of the policy: no database. Each file names the register serial it was made from
and, in its comments, the register entry behind each rule and the approved alternative."""

from __future__ import annotations

import json
import plistlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from server.enforcement.policy import Policy, Reason

Mode = Literal["blocklist", "allowlist"]
MODES: tuple[Mode, ...] = ("blocklist", "allowlist")
#: The zone name of the response-policy zone (resolvers load it under this name).
RPZ_ZONE = "rpz.shadowmap."
#: Where a PAC file sends a prohibited host: a proxy that refuses every connection.
PAC_SINK = "PROXY 127.0.0.1:9"
_HEADER = "Shadowmap enforcement export from the AI register, serial {serial}"


@dataclass(frozen=True, slots=True)
class Export:
    """One enforcement file: its name in the API, download file name, media type, renderer."""

    name: str
    filename: str
    media_type: str
    title: str
    render: Callable[[Policy, Mode], str]
    modes: bool = False  # offers an allowlist mode


def _sorted(rules: dict[str, Reason]) -> list[tuple[str, Reason]]:
    return sorted(rules.items())


def _unlisted(policy: Policy, mark: str) -> list[str]:
    """Comment lines naming the patterns no name list can hold (see Policy.patterns)."""
    return [
        f"{mark} not expressible as a name, enforce it by pattern: {pattern} ({reason.comment()})"
        for pattern, reason in _sorted(policy.patterns)
    ]


def rpz(policy: Policy, _mode: Mode) -> str:
    """A DNS response-policy zone: each prohibited name (and its subdomains) answers NXDOMAIN."""
    lines = [
        f"; {_HEADER.format(serial=policy.serial)}",
        f"$ORIGIN {RPZ_ZONE}",
        "$TTL 300",
        f"@ IN SOA localhost. hostmaster.localhost. {policy.serial} 3600 600 86400 300",
        "@ IN NS localhost.",
    ]
    for name, reason in _sorted(policy.blocked_domains):
        lines += [f"; {reason.comment()}", f"{name} CNAME .", f"*.{name} CNAME ."]
    for name, reason in _sorted(policy.exact_hosts()):
        lines += [f"; {reason.comment()}", f"{name} CNAME ."]
    return "\n".join(lines + _unlisted(policy, ";")) + "\n"


def hosts(policy: Policy, _mode: Mode) -> str:
    """A hosts file: each prohibited name to 0.0.0.0 (a hosts file cannot say "subdomains")."""
    lines = [f"# {_HEADER.format(serial=policy.serial)}"]
    names = {**policy.blocked_domains, **policy.blocked_hosts}
    for name, reason in _sorted(names):
        lines += [f"# {reason.comment()}", f"0.0.0.0 {name}"]
    return "\n".join(lines + _unlisted(policy, "#")) + "\n"


def squid(policy: Policy, _mode: Mode) -> str:
    """A Squid dstdomain ACL file (acl ai_prohibited dstdomain "/path/to/this/file")."""
    lines = [f"# {_HEADER.format(serial=policy.serial)}"]
    for name, reason in _sorted(policy.blocked_domains):
        lines += [f"# {reason.comment()}", f".{name}"]
    for name, reason in _sorted(policy.exact_hosts()):
        lines += [f"# {reason.comment()}", name]
    return "\n".join(lines + _unlisted(policy, "#")) + "\n"


def pac(policy: Policy, _mode: Mode) -> str:
    """A proxy auto-config file: prohibited hosts go to a refusing proxy, the rest direct."""
    lines = [
        f"// {_HEADER.format(serial=policy.serial)}",
        "function FindProxyForURL(url, host) {",
        "  host = host.toLowerCase();",
    ]
    for name, reason in _sorted(policy.blocked_domains):
        lines += [
            f"  // {reason.comment()}",
            f'  if (host === "{name}" || dnsDomainIs(host, ".{name}")) return "{PAC_SINK}";',
        ]
    for name, reason in _sorted(policy.exact_hosts()):
        lines += [f"  // {reason.comment()}", f'  if (host === "{name}") return "{PAC_SINK}";']
    lines += ["  " + line for line in _unlisted(policy, "//")]
    lines += ['  return "DIRECT";', "}"]
    return "\n".join(lines) + "\n"


def _chromium_policies(policy: Policy, mode: Mode) -> dict[str, list[str]]:
    if mode == "allowlist":
        return {
            "ExtensionInstallBlocklist": ["*"],
            "ExtensionInstallAllowlist": sorted(policy.allowed_chrome),
        }
    return {"ExtensionInstallBlocklist": sorted(policy.blocked_chrome)}


def chrome_json(policy: Policy, mode: Mode) -> str:
    """Chrome/Chromium/Edge managed policy as JSON (Linux: /etc/opt/chrome/policies/managed/,
    /etc/chromium/policies/managed/)."""
    return json.dumps(_chromium_policies(policy, mode), indent=2) + "\n"


def chrome_mobileconfig(policy: Policy, mode: Mode) -> str:
    """A macOS configuration profile setting the policy for Chrome and Edge."""
    policies = _chromium_policies(policy, mode)
    namespace = uuid.UUID("7f6b0d7e-3f0e-4c55-9d0a-5a5c2f1e0b11")
    payloads = [
        {
            "PayloadType": domain,
            "PayloadIdentifier": f"org.shadowmap.enforcement.{domain}",
            "PayloadUUID": str(uuid.uuid5(namespace, f"{domain}:{policy.serial}:{mode}")),
            "PayloadVersion": 1,
            "PayloadDisplayName": f"AI extension policy for {domain}",
            **policies,
        }
        for domain in ("com.google.Chrome", "com.microsoft.Edge")
    ]
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": "org.shadowmap.enforcement",
        "PayloadUUID": str(uuid.uuid5(namespace, f"profile:{policy.serial}:{mode}")),
        "PayloadDisplayName": "Shadowmap AI register: browser extensions",
        "PayloadDescription": _HEADER.format(serial=policy.serial),
        "PayloadScope": "System",
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile).decode()


def _reg_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def chrome_reg(policy: Policy, mode: Mode) -> str:
    """A Windows registry file setting the policy for Chrome and Edge (HKLM)."""
    lines = [
        "Windows Registry Editor Version 5.00",
        "",
        f"; {_HEADER.format(serial=policy.serial)}",
    ]
    for root in ("Google\\Chrome", "Microsoft\\Edge"):
        for key, values in _chromium_policies(policy, mode).items():
            path = f"HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\{root}\\{key}"
            lines += ["", f"[-{path}]", f"[{path}]"]
            lines += [
                f'"{number}"="{_reg_string(value)}"' for number, value in enumerate(values, 1)
            ]
    return "\r\n".join(lines) + "\r\n"


def firefox(policy: Policy, mode: Mode) -> str:
    """Firefox policies.json: ExtensionSettings blocking the prohibited add-ons (allowlist
    mode: every add-on blocked but the approved ones)."""
    settings: dict[str, dict[str, str]] = {}
    if mode == "allowlist":
        settings["*"] = {"installation_mode": "blocked"}
        for addon, _reason in _sorted(policy.allowed_firefox):
            settings[addon] = {"installation_mode": "allowed"}
    else:
        for addon, reason in _sorted(policy.blocked_firefox):
            settings[addon] = {
                "installation_mode": "blocked",
                "blocked_install_message": reason.comment(),
            }
    return json.dumps({"policies": {"ExtensionSettings": settings}}, indent=2) + "\n"


def vscode(policy: Policy, mode: Mode) -> str:
    """VS Code's extensions.allowed (user or policy setting): prohibited extensions false;
    allowlist mode: only the approved ones true."""
    allowed: dict[str, bool] = {}
    if mode == "allowlist":
        allowed = {extension: True for extension, _reason in _sorted(policy.allowed_vscode)}
    else:
        allowed["*"] = True
        allowed.update({extension: False for extension, _r in _sorted(policy.blocked_vscode)})
    return json.dumps({"extensions.allowed": allowed}, indent=2) + "\n"


EXPORTS: dict[str, Export] = {
    export.name: export
    for export in (
        Export("rpz", "shadowmap-ai.rpz.zone", "text/dns", "DNS response-policy zone", rpz),
        Export("hosts", "shadowmap-ai.hosts", "text/plain", "Hosts file", hosts),
        Export("squid", "shadowmap-ai-squid.acl", "text/plain", "Squid dstdomain ACL", squid),
        Export("pac", "shadowmap-ai.pac", "application/x-ns-proxy-autoconfig", "PAC file", pac),
        Export(
            "chrome-json",
            "shadowmap-ai-chrome-policy.json",
            "application/json",
            "Chrome/Edge policy (Linux JSON)",
            chrome_json,
            modes=True,
        ),
        Export(
            "chrome-mobileconfig",
            "shadowmap-ai-browsers.mobileconfig",
            "application/x-apple-aspen-config",
            "Chrome/Edge policy (macOS profile)",
            chrome_mobileconfig,
            modes=True,
        ),
        Export(
            "chrome-reg",
            "shadowmap-ai-browsers.reg",
            "text/plain",
            "Chrome/Edge policy (Windows .reg)",
            chrome_reg,
            modes=True,
        ),
        Export(
            "firefox",
            "policies.json",
            "application/json",
            "Firefox policies.json",
            firefox,
            modes=True,
        ),
        Export(
            "vscode",
            "shadowmap-ai-vscode.json",
            "application/json",
            "VS Code extensions.allowed",
            vscode,
            modes=True,
        ),
    )
}
