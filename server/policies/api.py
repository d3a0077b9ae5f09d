"""AI policies as JSON: list versions, draft, publish, acknowledge as the signed-in user,
coverage per department and email reminders, under /api/v1/policies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.store import policies as policies_store
from collector.store.policies import PolicyVersion
from server import fields
from server.policies import service
from server.web.api_auth import AUTH_RESPONSES, AimsAdmin, AimsReader
from server.web.callers import session_user
from server.web.deps import DbSession, RowId, State

router = APIRouter(prefix="/api/v1/policies", tags=["aims"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "No such policy version"},
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    409: {"description": "Already published, not published yet, or public_url is not set"},
}


class PolicyIn(BaseModel):
    policy_key: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Names the policy across versions"
    )
    title: str = Field(max_length=200, pattern=fields.REQUIRED_LINE)
    body_markdown: str = Field(max_length=service.MAX_BODY, pattern=fields.REQUIRED_TEXT)
    approver_role: str = Field(
        max_length=120, pattern=fields.REQUIRED_LINE, description="The role that approves it"
    )


class PublishIn(BaseModel):
    published_on: dt.date | None = None


class PolicyOut(BaseModel):
    id: int
    policy_key: str
    version: int
    title: str
    body_markdown: str
    approver_role: str
    status: str
    approved_by: str | None
    published_on: dt.date | None


class CoverageOut(BaseModel):
    department: str
    people: int
    acknowledged: int


class AckOut(BaseModel):
    recorded: bool = Field(description="False when this person had already acknowledged it")


class RemindOut(BaseModel):
    reminded: list[str]


def _out(policy: PolicyVersion) -> PolicyOut:
    return PolicyOut.model_validate(policy, from_attributes=True)


@router.get("", response_model=list[PolicyOut], responses=AUTH_RESPONSES)
def list_policies(session: DbSession, _who: AimsReader) -> list[PolicyOut]:
    """Every policy version, by policy and newest version first."""
    return [_out(p) for p in policies_store.list_policy_versions(session)]


@router.post("", response_model=PolicyOut, status_code=201, responses=AUTH_RESPONSES)
def draft_policy(session: DbSession, who: AimsAdmin, body: PolicyIn) -> PolicyOut:
    """Write the next draft version of a policy."""
    return _out(service.draft_policy(session, actor=who.actor, **body.model_dump()))


@router.post("/{policy_id}/publish", response_model=PolicyOut, responses=_CONFLICT)
def publish_policy(
    policy_id: RowId, session: DbSession, who: AimsAdmin, body: PublishIn
) -> PolicyOut:
    """Publish a draft version, approved by the caller."""
    return _out(
        service.publish_policy(
            session, actor=who.actor, policy_id=policy_id, published_on=body.published_on
        )
    )


@router.post("/{policy_id}/acknowledge", response_model=AckOut, responses=_NOT_FOUND)
def acknowledge(policy_id: RowId, session: DbSession, who: AimsReader) -> AckOut:
    """Acknowledge a published version as the signed-in user (matched to the directory)."""
    user = session_user(session, who)
    return AckOut(
        recorded=service.acknowledge_signed_in(session, username=user.username, policy_id=policy_id)
    )


@router.get("/{policy_id}/coverage", response_model=list[CoverageOut], responses=_NOT_FOUND)
def coverage(policy_id: RowId, session: DbSession, _who: AimsReader) -> list[CoverageOut]:
    """Per department of the directory, how many people acknowledged this version."""
    policy = policies_store.get_policy_version(session, policy_id=policy_id)
    return [
        CoverageOut(department=row.department, people=row.people, acknowledged=row.done)
        for row in service.acknowledgement_coverage(session, policy=policy)
    ]


@router.post(
    "/{policy_id}/reminders",
    response_model=RemindOut,
    responses={**_CONFLICT, 502: {"description": "The mail server refused or was unreachable"}},
)
def remind(policy_id: RowId, session: DbSession, state: State, who: AimsAdmin) -> RemindOut:
    """Email everyone who has not acknowledged this version their own link."""
    return RemindOut(
        reminded=service.send_reminders(
            session, actor=who.actor, settings=state.settings, policy_id=policy_id
        )
    )
