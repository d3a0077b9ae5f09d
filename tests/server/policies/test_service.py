"""Policies on SQLite and PostgreSQL: versions, publication, safe rendering, acknowledgements
by link and by a signed-in user, coverage per department, and a new version asking again."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from collector.errors import Conflict, NotFound
from collector.store import people
from collector.store.policies import current_policies
from server.errors import GuardFailed
from server.people.service import import_directory
from server.policies import service as policies
from tests.server.seed import audit_actions

KEY = b"k" * 32
HOSTILE = (
    "# Acceptable use\n\n<script>window.__pwned=1</script>\n\n"
    "[click](javascript:alert(1)) [ok](https://example.org/aup) "
    "[tricky](JaVaScRiPt&#58;alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<img src=x onerror="alert(2)">'
)


def test_hostile_markdown_renders_as_inert_text() -> None:
    html = policies.render_markdown(HOSTILE)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://example.org/aup"' in html
    # The unsafe links stay as plain text: the only link made is the https one.
    assert html.count("href=") == 1
    assert "<h1>Acceptable use</h1>" in html


def test_publish_acknowledge_and_a_new_version_asks_again(db: Session) -> None:
    import_directory(
        db, actor="admin",
        data=b"username,department,email\nann,Sales,ann@x.org\nbob,Sales,\ncy,Legal,\n",
    )  # fmt: skip
    draft = policies.draft_policy(
        db, actor="admin", policy_key="ai-use", title="AI use", body_markdown=HOSTILE,
        approver_role="CISO",
    )  # fmt: skip
    ann = people.find_person(db, username="ann")
    assert ann is not None
    with pytest.raises(GuardFailed):
        policies.acknowledge(db, policy=draft, person=ann, via="link")
    published = policies.publish_policy(db, actor="carla", policy_id=draft.id)
    assert published.approved_by == "carla" and published.published_on is not None
    with pytest.raises(Conflict):
        policies.publish_policy(db, actor="carla", policy_id=draft.id)

    token = policies.acknowledgement_token(KEY, policy_id=published.id, person_id=ann.id)
    policy, person = policies.resolve_token(db, KEY, token)
    assert policies.acknowledge(db, policy=policy, person=person, via="link") is True
    assert policies.acknowledge(db, policy=policy, person=person, via="link") is False
    assert policies.acknowledge_signed_in(db, username="cy", policy_id=published.id)
    with pytest.raises(GuardFailed):
        policies.acknowledge_signed_in(db, username="stranger", policy_id=published.id)
    for forged in (token[:-1] + ("0" if token[-1] != "0" else "1"), "1.2", "x.y.z", ""):
        with pytest.raises(NotFound):
            policies.resolve_token(db, KEY, forged)
    coverage = {row.department: (row.done, row.people) for row in
                policies.acknowledgement_coverage(db, policy=published)}  # fmt: skip
    assert coverage == {"Legal": (1, 1), "Sales": (1, 2)}

    second = policies.draft_policy(
        db, actor="admin", policy_key="ai-use", title="AI use", body_markdown="v2",
        approver_role="CISO",
    )  # fmt: skip
    policies.publish_policy(db, actor="carla", policy_id=second.id)
    assert second.version == 2
    assert [p.version for p in current_policies(db)] == [2]
    assert len(policies.missing_acknowledgements(db, policy=second)) == 3
    assert audit_actions(db).count("policy.acknowledge") == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"policy_key": "AI Use!"}, "policy_key"),
        ({"title": ""}, "title"),
        ({"body_markdown": "x" * 100_001}, "body_markdown"),
        ({"approver_role": ""}, "approver_role"),
    ],
)
def test_bad_policies_are_refused(db: Session, changes: dict[str, str], field: str) -> None:
    values = {"policy_key": "ai-use", "title": "AI use", "body_markdown": "text",
              "approver_role": "CISO", **changes}  # fmt: skip
    with pytest.raises(GuardFailed) as raised:
        policies.draft_policy(db, actor="admin", **values)
    assert raised.value.field == field
