"""Line parsers for DNS and proxy logs: each turns one line into a lookup, or None.

A parser returns None for a line that holds no lookup, and the importer counts it; for a line
that is broken in a way worth telling apart (a Zeek header with a bad value) it raises
MalformedLine, which the importer counts too. Nothing else escapes a parser, whatever the bytes.
Zeek logs carry their own column layout in ``#fields`` headers, so their parser keeps state.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from collector.logimport.errors import MalformedLine


@dataclass(frozen=True, slots=True)
class Lookup:
    """One client looking up (or connecting to) one name, as a log line records it."""

    client: str
    name: str
    time: dt.datetime | None = None
    user: str | None = None
    detail: str | None = None  # query type, TLS version, proxy method...


class LineParser(Protocol):
    def parse(self, line: str) -> Lookup | None: ...


def _epoch(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _iso(value: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC now: an offset that moves it past year 1 or 9999 is no usable time.
        return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None


# Zeek writes its separator as \xNN escapes ("#separator \x09").
_ZEEK_SEPARATOR = re.compile(r"(?:\\x[0-9A-Fa-f]{2})+")


class ZeekParser:
    """Zeek dns.log or ssl.log, in Zeek's TSV format (with #fields) or as JSON lines."""

    _DEFAULT_FIELDS = {
        "dns": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "proto",
            "trans_id",
            "rtt",
            "query",
            "qclass",
            "qclass_name",
            "qtype",
            "qtype_name",
            "rcode",
            "rcode_name",
            "AA",
            "TC",
            "RD",
            "RA",
            "Z",
            "answers",
            "TTLs",
            "rejected",
        ],
        "ssl": [
            "ts",
            "uid",
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "version",
            "cipher",
            "curve",
            "server_name",
            "resumed",
            "last_alert",
            "next_protocol",
            "established",
            "ssl_history",
            "cert_chain_fps",
            "client_cert_chain_fps",
            "sni_matches_cert",
        ],
    }

    def __init__(self, log: str) -> None:
        self._name_field = "query" if log == "dns" else "server_name"
        self._detail_field = "qtype_name" if log == "dns" else "version"
        self._separator = "\t"
        self._set_columns(self._DEFAULT_FIELDS[log])

    def _set_columns(self, fields: list[str]) -> None:
        self._columns = {name: index for index, name in enumerate(fields)}

    def parse(self, line: str) -> Lookup | None:
        if line.startswith("{"):
            return self._parse_json(line)
        if line.startswith("#"):
            self._header(line)
            return None
        values = line.rstrip("\r\n").split(self._separator)
        columns = self._columns
        try:
            name = values[columns[self._name_field]]
            client = values[columns["id.orig_h"]]
        except (KeyError, IndexError):
            return None
        if name in ("-", "(empty)", "") or client in ("-", ""):
            return None
        detail = None
        if self._detail_field in columns and columns[self._detail_field] < len(values):
            detail = values[columns[self._detail_field]]
        stamp = values[columns["ts"]] if "ts" in columns else "-"
        return Lookup(
            client=client,
            name=name,
            time=_epoch(stamp),
            detail=None if detail in (None, "-") else detail,
        )

    def _header(self, line: str) -> None:
        key, _, rest = line.rstrip("\r\n").partition(
            self._separator if line.startswith("#fields") else " "
        )
        if key == "#separator":
            value = rest.strip()
            if not _ZEEK_SEPARATOR.fullmatch(value):
                raise MalformedLine(f"Zeek #separator is not \\xNN escapes: {value[:40]!r}")
            self._separator = bytes.fromhex(value.replace("\\x", "")).decode("latin-1")
        elif key == "#fields":
            self._set_columns(rest.split(self._separator))

    def _parse_json(self, line: str) -> Lookup | None:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # malformed, or nested past the parser's depth
            return None
        if not isinstance(record, dict):
            return None
        name = record.get(self._name_field)
        ids = record.get("id")
        client = record.get("id.orig_h") or (ids.get("orig_h") if isinstance(ids, dict) else None)
        if not isinstance(name, str) or not name or not isinstance(client, str):
            return None
        stamp = record.get("ts")
        when = (
            _epoch(str(stamp))
            if isinstance(stamp, int | float)
            else (_iso(stamp) if isinstance(stamp, str) else None)
        )
        detail = record.get(self._detail_field)
        return Lookup(
            client=client, name=name, time=when, detail=detail if isinstance(detail, str) else None
        )


_BIND = re.compile(
    r"client (?:@\S+ )?(?P<client>[0-9A-Fa-f:.]+)#\d+(?: \([^)]*\))?: (?:view [^:]+: )?"
    r"query: (?P<name>\S+) (?P<cls>\S+) (?P<type>\S+)"
)
_BIND_TIME = re.compile(r"^(\d{2}-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2})(?:\.(\d+))?")


class BindParser:
    """BIND 9 query log (``category queries``)."""

    def parse(self, line: str) -> Lookup | None:
        match = _BIND.search(line)
        if match is None:
            return None
        when = None
        stamp = _BIND_TIME.match(line)
        if stamp is not None:
            try:
                when = dt.datetime.strptime(stamp.group(1), "%d-%b-%Y %H:%M:%S").replace(
                    tzinfo=dt.UTC
                )
            except ValueError:
                when = None
        return Lookup(client=match["client"], name=match["name"], time=when, detail=match["type"])


_DNSMASQ = re.compile(r"query\[(?P<type>[^\]]+)\] (?P<name>\S+) from (?P<client>\S+)")
_SYSLOG_TIME = re.compile(
    r"^(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d{2}:\d{2}:\d{2})"
)
_MONTHS = {
    name: index
    for index, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


class DnsmasqParser:
    """dnsmasq ``log-queries`` output, which Pi-hole's pihole.log also uses.

    Syslog stamps carry no year: the importer's reference time supplies it (a date that
    would lie in the future belongs to the year before).
    """

    def __init__(self, now: dt.datetime) -> None:
        self._now = now

    def parse(self, line: str) -> Lookup | None:
        match = _DNSMASQ.search(line)
        if match is None:
            return None
        return Lookup(
            client=match["client"], name=match["name"], time=self._time(line), detail=match["type"]
        )

    def _time(self, line: str) -> dt.datetime | None:
        stamp = _SYSLOG_TIME.match(line)
        if stamp is None:
            return None
        month = _MONTHS.get(stamp["month"])
        if month is None:
            return None
        hour, minute, second = (int(part) for part in stamp["clock"].split(":"))
        try:
            when = dt.datetime(
                self._now.year, month, int(stamp["day"]), hour, minute, second, tzinfo=dt.UTC
            )
            if when > self._now + dt.timedelta(days=1):
                when = when.replace(year=self._now.year - 1)
        except ValueError:
            return None
        return when


_WINDOWS = re.compile(
    r"^(?P<date>\S+) (?P<clock>\d{1,2}:\d{2}:\d{2})(?: (?P<ampm>[AP]M))? \S+ PACKET\s+\S+\s+"
    r"(?:UDP|TCP) (?P<direction>Snd|Rcv) (?P<client>[0-9A-Fa-f:.]+)\s+[0-9A-Fa-f]+ "
    r"(?P<response>[ R]) (?P<opcode>\S)\s+\[[^\]]*\]\s+(?P<type>\S+)\s+(?P<name>\S+)"
)
_WIRE_LABEL = re.compile(r"\((\d+)\)")


class WindowsDnsParser:
    """Windows Server DNS debug log (packet logging): queries received from clients."""

    def parse(self, line: str) -> Lookup | None:
        match = _WINDOWS.search(line)
        if match is None or match["direction"] != "Rcv" or match["response"] != " ":
            return None
        if match["opcode"] != "Q":
            return None
        name = _WIRE_LABEL.sub(".", match["name"]).strip(".")
        if not name:
            return None
        return Lookup(
            client=match["client"], name=name, time=self._time(match), detail=match["type"]
        )

    @staticmethod
    def _time(match: re.Match[str]) -> dt.datetime | None:
        clock = match["clock"] + (f" {match['ampm']}" if match["ampm"] else "")
        clock_format = "%I:%M:%S %p" if match["ampm"] else "%H:%M:%S"
        for date_format in ("%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(
                    f"{match['date']} {clock}", f"{date_format} {clock_format}"
                ).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
        return None


class SquidParser:
    """Squid access.log in the native format: the host each client's requests went to."""

    def parse(self, line: str) -> Lookup | None:
        fields = line.split()
        if len(fields) < 7:
            return None
        method, url = fields[5], fields[6]
        if method == "CONNECT":
            host = url.rsplit(":", 1)[0] if ":" in url else url
        else:
            try:
                host = urlsplit(url).hostname or ""
            except ValueError:
                return None
        host = host.strip("[]")
        if not host:
            return None
        user = fields[7] if len(fields) > 7 and fields[7] != "-" else None
        return Lookup(client=fields[2], name=host, time=_epoch(fields[0]), user=user, detail=method)
