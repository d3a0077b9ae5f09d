"""How an event is written for a SIEM: an RFC 5424 syslog message carrying CEF, JSON or an
ECS document, framed by octet counting (RFC 6587 section 3.4.1, as RFC 5425 requires over
TLS); and the Elastic Common Schema document itself, one JSON line each.
"""

from __future__ import annotations

import json
from typing import Any

from server import __version__
from server.siem.events import EVENT_KINDS, Event

ECS_VERSION = "8.11.0"
#: RFC 5424 facility: local0 (16); the SIEM files events by APP-NAME and MSGID anyway.
FACILITY = 16
APP_NAME = "shadowmap"
FORMATS = ("cef", "json", "ecs")


def syslog_severity(severity: int) -> int:
    """RFC 5424 severity from a 0-10 event severity: crit, warning, notice or info."""
    if severity >= 8:
        return 2
    if severity >= 6:
        return 4
    if severity >= 4:
        return 5
    return 6


def ecs_document(event: Event) -> dict[str, Any]:
    """The event in Elastic Common Schema field names (custom fields under ``shadowmap``)."""
    kind = EVENT_KINDS[event["kind"]]
    document: dict[str, Any] = {
        "@timestamp": event["at"],
        "ecs": {"version": ECS_VERSION},
        "message": event["message"],
        "event": {
            "id": event["id"],
            "kind": kind.ecs_kind,
            "category": event["categories"],
            "type": event["types"],
            "action": event["action"],
            "outcome": event["outcome"],
            "severity": kind.severity,
            "module": "shadowmap",
            "dataset": f"shadowmap.{event['kind']}",
            "provider": "shadowmap",
        },
        "observer": {"vendor": "Shadowmap", "product": "Shadowmap", "version": __version__},
        "shadowmap": {
            "kind": event["kind"],
            "object": event["object"],
            "details": event["details"],
        },
    }
    if event.get("actor"):
        document["user"] = {"name": event["actor"]}
    if event.get("host"):
        document["host"] = {"name": event["host"]}
    return document


def json_document(event: Event) -> dict[str, Any]:
    """The event as Shadowmap keeps it (its own field names), less the ECS categorisation."""
    return {name: value for name, value in event.items() if name not in ("categories", "types")}


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace("=", "\\=")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def cef_line(event: Event) -> str:
    """The event as ArcSight CEF (version 0): header fields escaped for ``|``, extension
    values for ``=``, backslashes and line breaks."""
    kind = EVENT_KINDS[event["kind"]]
    extension = {
        "rt": event["at"],
        "externalId": event["id"],
        "act": event["action"],
        "outcome": event["outcome"],
        "msg": event["message"],
        "cs1Label": "objectType",
        "cs1": event["object"]["type"],
        "cs2Label": "objectId",
        "cs2": event["object"]["id"],
        "cs3Label": "kind",
        "cs3": event["kind"],
    }
    if event.get("actor"):
        extension["suser"] = event["actor"]
    if event.get("host"):
        extension["dhost"] = event["host"]
    header = "|".join(
        _cef_header(part)
        for part in (
            "CEF:0",
            "Shadowmap",
            "Shadowmap",
            __version__,
            kind.cef_id,
            kind.title,
            str(kind.severity),
        )
    )
    return (
        header
        + "|"
        + " ".join(f"{key}={_cef_value(str(value))}" for key, value in extension.items())
    )


def payload(event: Event, fmt: str) -> str:
    """The message body of one event in ``fmt`` (cef, json or ecs); raises ValueError."""
    if fmt == "cef":
        return cef_line(event)
    if fmt == "json":
        return json.dumps(json_document(event), separators=(",", ":"), ensure_ascii=False)
    if fmt == "ecs":
        return json.dumps(ecs_document(event), separators=(",", ":"), ensure_ascii=False)
    raise ValueError(f"unknown SIEM format {fmt!r}; one of {', '.join(FORMATS)}")


def _sd_value(value: str) -> str:
    # RFC 5424 section 6.3.3: escape '"', '\' and ']' in a PARAM-VALUE.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _printable(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII, no spaces, bounded, '-' when empty."""
    cleaned = "".join(ch if "!" <= ch <= "~" else "_" for ch in value)[:limit]
    return cleaned or "-"


def syslog_message(event: Event, fmt: str, *, hostname: str) -> bytes:
    """One RFC 5424 message: PRI, version 1, the event time, host, APP-NAME, MSGID = the kind,
    an ``origin`` element (RFC 5424 section 7.2), then the payload (which carries the event
    id, by which a receiver can drop a repeat)."""
    kind = EVENT_KINDS[event["kind"]]
    pri = FACILITY * 8 + syslog_severity(kind.severity)
    structured = f'[origin software="Shadowmap" swVersion="{_sd_value(__version__)}"]'
    header = " ".join(
        (
            f"<{pri}>1",
            event["at"],
            _printable(hostname, 255),
            APP_NAME,
            "-",
            _printable(event["kind"], 32),
            structured,
        )
    )
    return f"{header} {payload(event, fmt)}".encode()


def octet_counted(message: bytes) -> bytes:
    """Frame one message for syslog over TCP/TLS: its length in bytes, a space, the message."""
    return str(len(message)).encode("ascii") + b" " + message
