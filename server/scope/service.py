"""Publish a new version of the AIMS scope, and measure how much discovered AI falls outside
it: every report, dashboard and board summary states both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.store import audit
from collector.store import scope as scope_store
from collector.store.inventory import InventoryItem
from collector.store.register import RegisterEntry
from collector.store.scope import AI_USE_KINDS, ScopeStatement
from collector.store.triage import TriageRecord
from server import fields
from server.audit.service import record_change
from server.inventory import states as triage_states


def scope_snapshot(statement: ScopeStatement) -> dict[str, Any]:
    return {
        "version": statement.version,
        "owner": statement.owner,
        "business_units": list(statement.business_units),
        "locations": list(statement.locations),
        "ai_use_kinds": list(statement.ai_use_kinds),
        "exclusions": statement.exclusions,
        "rationale": statement.rationale,
        "created_by": statement.created_by,
        "created_at": statement.created_at.isoformat(),
    }


def publish_scope(
    session: Session,
    *,
    actor: str,
    owner: str,
    business_units: list[str],
    locations: list[str],
    ai_use_kinds: list[str],
    exclusions: str,
    rationale: str,
) -> ScopeStatement:
    """Make a new scope version the one in force; raises GuardFailed naming the field."""
    owner = fields.text(owner, "owner", limit=120, required=True)
    units = fields.items(business_units, "business_units")
    places = fields.items(locations, "locations")
    kinds = fields.choices(ai_use_kinds, "ai_use_kinds", AI_USE_KINDS)
    if not units:
        fields.text("", "business_units", limit=1, required=True)
    if not kinds:
        fields.text("", "ai_use_kinds", limit=1, required=True)
    rationale = fields.text(rationale, "rationale", limit=4000, required=True)
    exclusions = fields.text(exclusions, "exclusions", limit=4000)
    previous = scope_store.current_scope(session)
    audit.lock_audit_chain(session)
    statement = scope_store.create_scope_statement(
        session,
        owner=owner,
        business_units=units,
        locations=places,
        ai_use_kinds=kinds,
        exclusions=exclusions,
        rationale=rationale,
        created_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="scope.publish",
        object_type="scope",
        object_id=f"v{statement.version}",
        before=scope_snapshot(previous) if previous else None,
        after=scope_snapshot(statement),
    )
    return statement


@dataclass(frozen=True, slots=True)
class ScopeCoverage:
    """The scope in force and how much of the discovered AI it leaves out."""

    statement: ScopeStatement | None
    discovered: int  # inventory items that are AI (not false positives, not merged)
    outside_scope: int  # triaged out of scope, or governed by an out-of-scope entry
    in_scope_entries: int
    out_of_scope_entries: int

    @property
    def outside_share(self) -> float:
        return self.outside_scope / self.discovered if self.discovered else 0.0

    def sentence(self) -> str:
        """Say what the figures cover, for the top of every report and summary."""
        if self.statement is None:
            return (
                "No AIMS scope has been published: these figures cover all discovered AI and "
                "do not imply that an AI management system covers it."
            )
        units = ", ".join(self.statement.business_units)
        return (
            f"AIMS scope v{self.statement.version} (owner {self.statement.owner}): "
            f"{units}; AI {', '.join(self.statement.ai_use_kinds)}. "
            f"{self.outside_scope} of {self.discovered} discovered AI services "
            f"({self.outside_share:.0%}) fall outside the scope."
        )


def scope_coverage(session: Session) -> ScopeCoverage:
    """Return the scope in force with how many discovered AI services fall outside it."""
    real = InventoryItem.state.notin_((triage_states.FALSE_POSITIVE, triage_states.MERGED))
    discovered = session.scalar(select(func.count(InventoryItem.id)).where(real)) or 0
    outside = (
        session.scalar(
            select(func.count(InventoryItem.id))
            .outerjoin(TriageRecord, TriageRecord.item_id == InventoryItem.id)
            .outerjoin(RegisterEntry, RegisterEntry.id == TriageRecord.register_entry_id)
            .where(
                real,
                (InventoryItem.state == triage_states.OUT_OF_SCOPE)
                | (RegisterEntry.scope_status == "out_of_scope"),
            )
        )
        or 0
    )
    by_scope = dict(
        session.execute(
            select(RegisterEntry.scope_status, func.count(RegisterEntry.id))
            .where(RegisterEntry.status != "retired")
            .group_by(RegisterEntry.scope_status)
        ).all()
    )
    return ScopeCoverage(
        statement=scope_store.current_scope(session),
        discovered=discovered,
        outside_scope=outside,
        in_scope_entries=by_scope.get("in_scope", 0),
        out_of_scope_entries=by_scope.get("out_of_scope", 0),
    )
