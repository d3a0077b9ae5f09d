"""The SIEM message formats: RFC 5424 with octet counting, CEF escaping, ECS field names."""

from __future__ import annotations

import datetime as dt
import json

from server.siem.events import EVENT_KINDS, new_event
from server.siem.formats import cef_line, ecs_document, octet_counted, payload, syslog_message

AT = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)


def event(kind: str = "extension.malicious", message: str = "x") -> dict[str, object]:
    return new_event(
        kind=kind,
        at=AT,
        action="extension.found",
        object_type="inventory_item",
        object_id="7",
        actor="rita",
        host="laptop 1",
        message=message,
    )


def test_a_syslog_message_is_rfc5424_and_framed_by_its_length_in_bytes() -> None:
    message = syslog_message(event(message="naïve"), "json", hostname="sm.example.com")
    header = message.split(b" ", 7)
    assert header[:7] == [
        b"<130>1",  # local0 (16) * 8 + crit (2): a malicious extension is severity 8
        b"2026-12-05T10:00:00Z",
        b"sm.example.com",
        b"shadowmap",
        b"-",
        b"extension.malicious",
        b"[origin",
    ]
    framed = octet_counted(message)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest) == len(message) and rest == message


def test_cef_escapes_its_separators() -> None:
    line = cef_line(event(message="a|b=c\\d\ne"))
    *header, extension = line.split("|", 7)
    assert header == [
        "CEF:0",
        "Shadowmap",
        "Shadowmap",
        header[3],
        "sm-300",
        "Malicious browser extension found",
        "8",
    ]
    assert "msg=a|b\\=c\\\\d\\ne" in extension
    assert "suser=rita" in extension and "dhost=laptop 1" in extension


def test_ecs_documents_use_ecs_names_and_allowed_categories() -> None:
    for kind, spec in EVENT_KINDS.items():
        one = event(kind)
        document = ecs_document(one)
        assert document["event"]["kind"] == spec.ecs_kind in ("event", "alert")
        assert document["event"]["category"] == list(spec.categories)
        assert document["@timestamp"] == "2026-12-05T10:00:00Z"
        assert document["user"] == {"name": "rita"} and document["host"] == {"name": "laptop 1"}
        assert json.loads(payload(one, "ecs")) == document
