"""Run scanners, match what they observe against the catalogue, and build findings.

Observations that match nothing are dropped here, in memory: only AI-related facts leave. An
unmatched observation that a heuristic judges likely AI becomes a finding without a service id,
carrying the heuristic's reason and a lower confidence. A DNS name is judged by
:func:`signatures.judge_name`, as network capture and log import judge it.

This is where what the OS said becomes what the agent reports: every finding and scanner error
is fitted to the wire format here (:func:`signatures.fit_finding`), so a file or user name that
is not valid UTF-8, from any scanner, is shown escaped (``l\\xff.gguf``) and never stops a
report from being encoded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from agent.evidence import EvidenceField
from agent.privacy import pseudonymise, pseudonymise_evidence
from agent.scanners.base import Observation, ScanContext, Scanner
from signatures import (
    Confidence,
    Finding,
    IndicatorKind,
    Match,
    Matcher,
    ScannerError,
    assess,
    fit_finding,
    fit_scanner_error,
    judge_name,
)

log = logging.getLogger(__name__)

_PATH_KINDS = (IndicatorKind.EXE_PATH, IndicatorKind.INSTALL_PATH)
# What the runner adds to a scanner's evidence when it builds a finding.
EVIDENCE: tuple[EvidenceField, ...] = (
    EvidenceField("matched", "text", "The catalogue indicator that matched, as kind:value."),
    EvidenceField(
        "related_service", "text", "For a heuristic finding: the catalogued service that hinted."
    ),
)


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScannerError] = field(default_factory=list)


def match_observation(matcher: Matcher, observation: Observation) -> Match | None:
    """Return the catalogue match for one observation, if any."""
    kind = observation.indicator_kind
    if kind is IndicatorKind.PROCESS:
        exe = observation.hints.get("exe")
        cmdline = observation.hints.get("cmdline") or ()
        return matcher.match_process(
            name=observation.indicator,
            exe=exe if isinstance(exe, str) else None,
            cmdline=tuple(str(part) for part in cmdline) if isinstance(cmdline, Iterable) else (),
        )
    if kind in (IndicatorKind.DOMAIN, IndicatorKind.HOST):
        judged = judge_name(matcher, observation.indicator)
        return judged.match if judged is not None else None
    if kind in _PATH_KINDS:
        return matcher.match_path(kind, observation.indicator)
    if kind is IndicatorKind.IP_RANGE:
        return matcher.match_ip(observation.indicator)
    return matcher.match_exact(kind, observation.indicator)


def run_scan(
    ctx: ScanContext,
    scanners: Sequence[Scanner],
    matcher: Matcher,
    *,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Run each scanner for this platform and return the matched, deduplicated findings.

    ``progress`` is told each scanner's name as it starts (the service reports where a cycle
    that overruns is stuck).
    """
    result = ScanResult()
    merged: dict[tuple[str, str, str, str], Finding] = {}
    for scanner in scanners:
        if ctx.platform not in scanner.platforms:
            continue
        if progress is not None:
            progress(scanner.name)
        try:
            for item in scanner.scan(ctx):
                if isinstance(item, ScannerError):
                    result.errors.append(fit_scanner_error(item))
                    continue
                finding = to_finding(ctx, matcher, item)
                if finding is not None:
                    merged.setdefault(finding.key(), finding)
        except Exception as exc:  # the top of a job: one broken scanner must not stop the scan
            log.exception("scanner %s failed", scanner.name)
            result.errors.append(
                fit_scanner_error(ScannerError(scanner=scanner.name, message=f"crashed: {exc!r}"))
            )
    result.findings = list(merged.values())
    return result


def to_finding(ctx: ScanContext, matcher: Matcher, observation: Observation) -> Finding | None:
    """Return the finding one observation makes (matched or likely AI), or None to drop it."""
    match = match_observation(matcher, observation)
    if match is None:
        return _to_candidate(ctx, matcher, observation)
    evidence = dict(observation.evidence)
    evidence["matched"] = f"{match.kind.value}:{match.indicator}"
    finding = Finding(
        kind=observation.kind,
        indicator=observation.indicator,
        indicator_kind=observation.indicator_kind.value,
        service_id=match.service_id,
        confidence=Confidence(match.confidence),
        user=observation.user,
        evidence=evidence,
        first_seen=ctx.now,
        last_seen=ctx.now,
        severity=matcher.catalogue.severity_of(match.service_id),
    )
    return fit_finding(finding)


def _to_candidate(ctx: ScanContext, matcher: Matcher, observation: Observation) -> Finding | None:
    """Turn an unmatched observation into a likely-AI finding when a heuristic fires."""
    verdict = assess(matcher, observation.indicator_kind, observation.indicator, observation.hints)
    if verdict is None:
        return None
    evidence = dict(observation.evidence)
    if verdict.related_service is not None:
        evidence["related_service"] = verdict.related_service
    finding = Finding(
        kind=observation.kind,
        indicator=observation.indicator,
        indicator_kind=observation.indicator_kind.value,
        service_id=None,
        confidence=Confidence(verdict.confidence),
        user=observation.user,
        heuristic=verdict.reason,
        evidence=evidence,
        first_seen=ctx.now,
        last_seen=ctx.now,
    )
    return fit_finding(finding)


def pseudonymise_findings(findings: Sequence[Finding], key: str) -> list[Finding]:
    """Replace usernames by keyed pseudonyms, in the user field and in evidence paths."""
    result = []
    for finding in findings:
        if not finding.user:
            result.append(finding)
            continue
        pseudonym = pseudonymise(finding.user, key)
        evidence = pseudonymise_evidence(finding.evidence, finding.user, pseudonym)
        result.append(replace(finding, user=pseudonym, evidence=evidence))  # type: ignore[arg-type]
    return result
