"""Severity: derived from the catalogue's malicious block, carried in findings on the wire,
stamped by the agent's runner and the network observer alike."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from agent.runner import to_finding
from agent.scanners.base import Observation, ScanContext
from signatures import (
    Catalogue,
    FindingKind,
    IndicatorKind,
    Matcher,
    Service,
    Severity,
    WireFormatError,
    parse_report,
)
from tests.factories import finding, report

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


@pytest.fixture
def malicious(catalogue: Catalogue) -> Service:
    return next(
        s
        for s in catalogue.malicious_services()
        if s.indicators.get(IndicatorKind.BROWSER_EXTENSION)
    )


def test_severity_comes_from_the_malicious_block(catalogue: Catalogue, malicious: Service) -> None:
    assert malicious.severity is Severity.MALICIOUS
    assert catalogue.severity_of(malicious.id) is Severity.MALICIOUS
    assert catalogue.severity_of("openai-chatgpt") is Severity.NORMAL
    assert catalogue.severity_of("no-such-service") is Severity.NORMAL
    assert catalogue.severity_of(None) is Severity.NORMAL
    assert all(s.malicious is not None for s in catalogue.malicious_services())


def test_the_runner_stamps_a_malicious_finding(matcher: Matcher, malicious: Service) -> None:
    extension = malicious.indicators[IndicatorKind.BROWSER_EXTENSION][0]
    observation = Observation(
        kind=FindingKind.BROWSER_EXTENSION,
        indicator_kind=IndicatorKind.BROWSER_EXTENSION,
        indicator=extension,
        hints={"name": "Claude search"},
    )
    found = to_finding(ScanContext(now=NOW), matcher, observation)
    assert found is not None and found.service_id == malicious.id
    assert found.severity is Severity.MALICIOUS
    normal = to_finding(
        ScanContext(now=NOW),
        matcher,
        dataclasses.replace(observation, indicator="z" * 32),  # the same words, another id
    )
    assert normal is not None and normal.service_id is None
    assert normal.severity is Severity.NORMAL


def test_severity_on_the_wire(malicious: Service) -> None:
    flagged = dataclasses.replace(finding(malicious.id), severity=Severity.MALICIOUS)
    plain = finding("openai-chatgpt")
    assert "severity" not in plain.to_dict()  # absent means normal, as older agents send
    assert flagged.to_dict()["severity"] == "malicious"
    parsed = parse_report(report([flagged, plain]).to_json())
    assert [f.severity for f in parsed.findings] == [Severity.MALICIOUS, Severity.NORMAL]
    bad = report([flagged]).to_json().replace(b'"malicious"', b'"evil"')
    with pytest.raises(WireFormatError):
        parse_report(bad)
