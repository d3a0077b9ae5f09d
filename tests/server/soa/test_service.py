"""The Statement of Applicability on SQLite and PostgreSQL: 38 Annex A references, applicability
from the scope, evidence from the data, and an admin's decision overriding the default."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from collector.errors import NotFound
from server.errors import GuardFailed
from server.policies import service as policies
from server.scope.service import publish_scope
from server.soa import service as soa
from tests.server.seed import ready_entry


def _row(db: Session, control_id: str) -> soa.SoaRow:
    return next(row for row in soa.soa_rows(db) if row.control.control_id == control_id)


def test_applicability_follows_the_scope_and_evidence_follows_the_data(db: Session) -> None:
    rows = soa.soa_rows(db)
    assert len(rows) == 38 and len({row.control.control_id for row in rows}) == 38
    assert _row(db, "A.6.2.4").status == "not_applicable"
    assert _row(db, "A.2.2").status == "planned" and _row(db, "A.2.2").evidence == ()

    publish_scope(
        db, actor="admin", owner="Olga", business_units=["Sales"], locations=["Berlin"],
        ai_use_kinds=["used", "developed"], exclusions="", rationale="start small",
    )  # fmt: skip
    policy = policies.draft_policy(
        db, actor="admin", policy_key="ai-use", title="AI use", body_markdown="Be careful.",
        approver_role="CISO",
    )  # fmt: skip
    policies.publish_policy(db, actor="admin", policy_id=policy.id)
    assert _row(db, "A.6.2.4").applicable and _row(db, "A.6.2.4").status == "planned"
    a22 = _row(db, "A.2.2")
    assert a22.status == "implemented" and a22.evidence[0].startswith("policy ai-use v1")
    assert "AIMS owner Olga" in _row(db, "A.3.2").evidence[0]
    assert _row(db, "A.2.2").references == (f"policy:{policy.id}",)
    assert soa.reference_url(f"policy:{policy.id}") == f"/policies/{policy.id}"
    register_id = ready_entry(db, supplier="OpenAI")
    assert f"entry:{register_id}" in _row(db, "A.4.2").references
    assert _row(db, "A.10.2").references == (f"entry:{register_id}",)


def test_an_admin_decision_overrides_the_default(db: Session) -> None:
    soa.decide_control(
        db, actor="admin", control_id="A.10.4", applicable=False,
        justification="We provide no AI to customers.", status="not_applicable",
        evidence_links=["https://intranet.example.org/soa"],
    )  # fmt: skip
    row = _row(db, "A.10.4")
    assert row.decided and row.links == ("https://intranet.example.org/soa",)
    with pytest.raises(NotFound):
        soa.decide_control(
            db, actor="admin", control_id="A.99", applicable=True, justification="x",
            status="implemented",
        )  # fmt: skip
    soa.decide_control(
        db, actor="admin", control_id="A.2.2", applicable=False, justification="x",
        status="implemented",
    )  # fmt: skip
    assert _row(db, "A.2.2").status == "not_applicable"
    with pytest.raises(GuardFailed) as raised:
        soa.decide_control(
            db, actor="admin", control_id="A.2.2", applicable=True, justification="x",
            status="implemented", evidence_links=["javascript:alert(1)"],
        )  # fmt: skip
    assert raised.value.field == "evidence_links"
