"""The risk score of an AI service and of a draft inventory item: 1 (low) to 10 (act now),
added up from named factors so that every page can show why, and kept within 1..10. The
catalogue's data-handling attributes give the service's part; a published malicious report
sets 10; the item's triage state (not looked at yet, set aside) and the register's decision on
it (approved, prohibited yet still seen...) move it. Lists sort on the same score through
``risk_table`` (computed in SQL by collector.store.inventory.risk_expression)."""

from __future__ import annotations

from dataclasses import dataclass

from collector import governance
from collector.store.inventory import RiskTable
from server.inventory import states
from signatures import Catalogue, Service

LOWEST = 1
HIGHEST = 10
#: Countries whose data protection the EU treats as adequate (GDPR art. 45 decisions, with the
#: EU/EEA itself): a headquarters elsewhere puts personal data under a regime nobody reviewed.
ADEQUATE_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO AD AR CA FO GG IL IM JP JE NZ KR CH GB UY US".split()
)
# Triage states that raise an item's score: nobody has decided on it yet (2), or it was set
# aside without being governed (1). A promoted item, governed in the register, adds nothing.
STATE_POINTS = {
    states.NEW: 2,
    states.TRIAGING: 2,
    states.NEEDS_INFO: 2,
    states.OUT_OF_SCOPE: 1,
    states.MERGED: 1,
}
STATE_REASONS = {
    states.NEW: "not triaged yet",
    states.TRIAGING: "not decided yet",
    states.NEEDS_INFO: "not decided yet (waiting for information)",
    states.OUT_OF_SCOPE: "set outside the scope of the AI management system, not governed",
    states.MERGED: "a duplicate: governed through the item it was merged into",
}

# What the register decided about the item (collector.governance): a decision with controls
# lowers the score a little; a use nobody has decided on yet, one whose review is due, on hold
# or retired but still in the inventory raises it. A prohibition adds nothing while the
# service is not seen; the violations below are what make it count.
GOVERNED_POINTS = {
    governance.UNDER_REVIEW: 1,
    governance.APPROVED: -1,
    governance.RESTRICTED: -1,
    governance.PROHIBITED: 0,
    governance.REVIEW_DUE: 1,
    governance.SUSPENDED: 2,
    governance.RETIRED: 1,
}
GOVERNED_REASONS = {
    governance.UNDER_REVIEW: "in the register, under review: no decision yet",
    governance.APPROVED: "approved in the register: an owner, a purpose, a rated risk and "
    "its controls",
    governance.RESTRICTED: "approved with conditions in the register (its allowed "
    "departments and controls)",
    governance.PROHIBITED: "prohibited in the register; no violation recorded",
    governance.REVIEW_DUE: "its review in the register is due: the decision may be out of date",
    governance.SUSPENDED: "suspended in the register: its use is on hold",
    governance.RETIRED: "retired in the register: it should no longer be in use",
}
# A violation recorded under a status that forbids the use: prohibited yet seen on hosts
# (enough to put any service among the high scores, 8 and over), or restricted yet seen in a
# department it is not allowed in. These replace the status's points.
VIOLATION_POINTS = {
    governance.PROHIBITED: 7,
    governance.RESTRICTED: 3,
}
VIOLATION_REASONS = {
    governance.PROHIBITED: "prohibited in the register, yet still seen on hosts: a violation",
    governance.RESTRICTED: "restricted in the register, yet seen where its conditions do not "
    "allow it: a violation",
}


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One reason for a score, with the points it adds (negative: lowers it)."""

    reason: str
    points: int


@dataclass(frozen=True, slots=True)
class RiskScore:
    score: int
    factors: tuple[RiskFactor, ...]

    @property
    def added_up(self) -> int:
        """What the factors add up to from the lowest score, before it is kept within 1..10."""
        return LOWEST + sum(factor.points for factor in self.factors)

    @property
    def level(self) -> str:
        """The word shown beside the number (and the class of its badge)."""
        if self.score >= 8:
            return "high"
        if self.score >= 5:
            return "medium"
        return "low"


def _clamp(points: int) -> int:
    return max(LOWEST, min(HIGHEST, points))


def service_factors(service: Service | None) -> list[RiskFactor]:
    """Return the catalogue's reasons for a service's risk (a candidate: nothing is known)."""
    if service is None:
        return [RiskFactor("not in the catalogue: nothing is known of its data handling", 4)]
    risk = service.risk
    found: list[RiskFactor] = []
    training = {
        "yes": RiskFactor("trains its models on what users send", 3),
        "opt_out": RiskFactor("trains on what users send unless they opt out", 2),
        "unknown": RiskFactor("not known whether it trains on what users send", 1),
    }
    if risk.trains_on_user_data in training:
        found.append(training[risk.trains_on_user_data])
    if risk.zero_retention == "no":
        found.append(RiskFactor("keeps what users send (no zero-retention option)", 1))
    elif risk.zero_retention == "unknown":
        found.append(RiskFactor("retention of what users send is not known", 1))
    if risk.enterprise_tier == "no":
        found.append(RiskFactor("no enterprise tier (no contract terms for business data)", 1))
    if not risk.certifications:
        found.append(RiskFactor("no security certification listed (ISO 27001, SOC 2...)", 1))
    if risk.hq_country == "unknown":
        found.append(RiskFactor("headquarters not known", 1))
    elif risk.hq_country.upper() not in ADEQUATE_COUNTRIES:
        found.append(
            RiskFactor(
                f"headquartered in {risk.hq_country.upper()}, outside the EU and the countries "
                "with an EU adequacy decision",
                1,
            )
        )
    return found


def governed_factor(governed_status: str, *, violated: bool) -> RiskFactor | None:
    """Return the register decision's part of an item's score (None: not in the register)."""
    if violated and governed_status in VIOLATION_POINTS:
        return RiskFactor(VIOLATION_REASONS[governed_status], VIOLATION_POINTS[governed_status])
    if governed_status in GOVERNED_POINTS:
        return RiskFactor(GOVERNED_REASONS[governed_status], GOVERNED_POINTS[governed_status])
    return None


def score_item(
    service: Service | None,
    *,
    state: str,
    malicious: bool,
    governed_status: str = governance.UNGOVERNED,
    violated: bool = False,
) -> RiskScore:
    """Return the score of an item (or, with state "", of a service) with its factors.

    ``governed_status`` is the register's status of the item, ``violated`` whether a
    violation of the register was recorded for it (its ``last_violation_at``).
    """
    if malicious:
        return RiskScore(
            HIGHEST, (RiskFactor("a published report calls it malicious", HIGHEST - LOWEST),)
        )
    factors = service_factors(service)
    if state in STATE_POINTS:
        factors.append(RiskFactor(STATE_REASONS[state], STATE_POINTS[state]))
    decided = governed_factor(governed_status, violated=violated)
    if decided is not None:
        factors.append(decided)
    return RiskScore(_clamp(LOWEST + sum(f.points for f in factors)), tuple(factors))


def risk_table(catalogue: Catalogue) -> RiskTable:
    """Return the numbers the store needs to compute and sort on the same score in SQL."""
    return RiskTable(
        service_points={
            service.id: sum(f.points for f in service_factors(service))
            for service in catalogue.services
        },
        candidate_points=sum(f.points for f in service_factors(None)),
        state_points=dict(STATE_POINTS),
        governed_points=dict(GOVERNED_POINTS),
        violation_points=dict(VIOLATION_POINTS),
        base=LOWEST,
        malicious=HIGHEST,
    )


def service_score(service: Service | None) -> RiskScore:
    """Return the score of a catalogue service alone (a register entry's), with its factors."""
    return score_item(service, state="", malicious=service is not None and bool(service.malicious))
