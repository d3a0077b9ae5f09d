"""Run one catalogue example ("kind:value") through the matcher the way the agent would."""

from __future__ import annotations

from signatures import IndicatorKind, Match, Matcher


def run_example(matcher: Matcher, example: str) -> Match | None:
    kind_text, _, value = example.partition(":")
    kind = IndicatorKind(kind_text)
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
        return matcher.match_domain(value)
    if kind is IndicatorKind.PROCESS:
        return matcher.match_process(name=value)
    if kind is IndicatorKind.CMDLINE:
        parts = value.split()
        return matcher.match_process(name=parts[0], cmdline=parts)
    if kind is IndicatorKind.EXE_PATH:
        name = value.replace("\\", "/").rsplit("/", 1)[-1]
        return matcher.match_process(name=name, exe=value)
    if kind is IndicatorKind.INSTALL_PATH:
        return matcher.match_path(kind, value)
    if kind is IndicatorKind.IP_RANGE:
        return matcher.match_ip(value)
    return matcher.match_exact(kind, value)
