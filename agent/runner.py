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
from agent.scanners.accounts import riskier
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
    EvidenceField(
        "package", "text", "For a process: the installed npm or PyPI package that it runs."
    ),
    EvidenceField("package_version", "text", "For a process: that package's version."),
    EvidenceField(
        "package_path", "text", "For a process: that package's folder (or its .dist-info)."
    ),
)
_PACKAGE_KINDS = {"npm": IndicatorKind.NPM, "pypi": IndicatorKind.PYPI}


def _package_candidates(observation: Observation) -> list[tuple[str, str, str | None, str | None]]:
    """Return a process observation's owning packages (innermost first), as the scanner saw."""
    raw = observation.hints.get("packages")
    if not isinstance(raw, list | tuple):
        return []
    return [
        candidate
        for candidate in raw
        if isinstance(candidate, tuple) and len(candidate) == 4 and candidate[0] in _PACKAGE_KINDS
    ]


def _match_package(
    matcher: Matcher, observation: Observation
) -> tuple[Match, tuple[str, str, str | None, str | None]] | None:
    """Match the first owning package of a process that the catalogue knows."""
    for candidate in _package_candidates(observation):
        hit = matcher.match_exact(_PACKAGE_KINDS[candidate[0]], candidate[1])
        if hit is not None:
            return hit, candidate
    return None


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[ScannerError] = field(default_factory=list)


def match_observation(matcher: Matcher, observation: Observation) -> Match | None:
    """Return the catalogue match for one observation, if any."""
    kind = observation.indicator_kind
    if kind is IndicatorKind.PROCESS:
        # The package a process runs says more than its name or command line: a CLI's native
        # binary belongs to the CLI's package, whatever the binary is called.
        owned = _match_package(matcher, observation)
        if owned is not None:
            return owned[0]
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
                    known = merged.get(finding.key())
                    if known is None or riskier(known.evidence, finding.evidence):
                        merged[finding.key()] = finding
        except Exception as exc:  # the top of a job: one broken scanner must not stop the scan
            log.exception("scanner %s failed", scanner.name)
            result.errors.append(
                fit_scanner_error(ScannerError(scanner=scanner.name, message=f"crashed: {exc!r}"))
            )
    result.findings = list(merged.values())
    return result


def required_by_catalogued(matcher: Matcher, observation: Observation) -> str | None:
    """Return the catalogued package that pulled an installed package in as its dependency.

    A package nobody asked for, needed by a requested package the catalogue knows (the OpenAI
    SDK inside an AI CLI's environment), belongs to that package's finding, not to its own.
    """
    if observation.indicator_kind not in (IndicatorKind.NPM, IndicatorKind.PYPI):
        return None
    required_by = observation.hints.get("required_by")
    if not isinstance(required_by, list | tuple):
        return None
    for name in required_by:
        if isinstance(name, str) and matcher.match_exact(observation.indicator_kind, name):
            return name
    return None


def to_finding(ctx: ScanContext, matcher: Matcher, observation: Observation) -> Finding | None:
    """Return the finding one observation makes (matched or likely AI), or None to drop it."""
    if required_by_catalogued(matcher, observation) is not None:
        return None
    match = match_observation(matcher, observation)
    if match is None:
        return _to_candidate(ctx, matcher, observation)
    evidence = dict(observation.evidence)
    evidence["matched"] = f"{match.kind.value}:{match.indicator}"
    indicator, indicator_kind = observation.indicator, observation.indicator_kind.value
    if observation.indicator_kind is IndicatorKind.PROCESS and match.kind in (
        IndicatorKind.NPM,
        IndicatorKind.PYPI,
    ):
        owned = _match_package(matcher, observation)
        if owned is not None:
            _, (_, name, version, path) = owned
            indicator, indicator_kind = name, match.kind.value
            evidence.update({"package": name, "package_version": version, "package_path": path})
    finding = Finding(
        kind=observation.kind,
        indicator=indicator,
        indicator_kind=indicator_kind,
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
