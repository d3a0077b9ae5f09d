"""AI policies: draft a version in Markdown, publish it (approved by a named role, on a
date), render it safely, and collect acknowledgements from people, through a per-person link
or as a signed-in user; coverage per department and reminders by email. A new published
version asks everyone again: acknowledgements belong to one version."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from markdown_it import MarkdownIt
from sqlalchemy.orm import Session

from collector.errors import Conflict, NotFound
from collector.store import audit, people, policies
from collector.store.base import utcnow
from collector.store.people import Person
from collector.store.policies import PolicyVersion
from server import fields
from server.audit.service import record_change
from server.config import ServerSettings
from server.errors import DeliveryFailed, GuardFailed
from server.signing import derive_key, master_key

MAX_BODY = 100_000
#: The most reminder emails one run sends (one directory import's worth).
MAX_REMINDERS = 100_000
_KEY_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ACK_PURPOSE = "policy-acknowledgement"


def policy_snapshot(policy: PolicyVersion) -> dict[str, Any]:
    return {
        "policy_key": policy.policy_key,
        "version": policy.version,
        "title": policy.title,
        "body_sha256": hashlib.sha256(policy.body_markdown.encode()).hexdigest(),
        "approver_role": policy.approver_role,
        "status": policy.status,
        "approved_by": policy.approved_by,
        "published_on": policy.published_on,
    }


def render_markdown(body: str) -> str:
    """Return a policy's Markdown as HTML that cannot run script: raw HTML is shown as text
    and links other than http(s), mailto and relative ones are not made links."""
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False})
    renderer.validateLink = _safe_link  # type: ignore[method-assign]
    return str(renderer.render(body))


def _safe_link(url: str) -> bool:
    lowered = re.sub(r"[\x00-\x20]", "", url).lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", lowered)
    return scheme is None or scheme.group(1) in ("http", "https", "mailto")


def draft_policy(
    session: Session,
    *,
    actor: str,
    policy_key: str,
    title: str,
    body_markdown: str,
    approver_role: str,
) -> PolicyVersion:
    """Write the next draft version of a policy; raises GuardFailed."""
    policy_key = policy_key.strip().lower()
    if not _KEY_RULE.match(policy_key):
        raise GuardFailed("policy_key", "1-64 lower-case letters, digits or '-'")
    title = fields.text(title, "title", limit=200, required=True)
    body = fields.text(body_markdown, "body_markdown", limit=MAX_BODY, required=True)
    approver_role = fields.text(approver_role, "approver_role", limit=120, required=True)
    audit.lock_audit_chain(session)
    policy = policies.create_policy_version(
        session,
        policy_key=policy_key,
        title=title,
        body_markdown=body,
        approver_role=approver_role,
        created_by=actor,
    )
    record_change(
        session,
        actor=actor,
        action="policy.draft",
        object_type="policy",
        object_id=f"{policy.policy_key}@{policy.version}",
        before=None,
        after=policy_snapshot(policy),
    )
    return policy


def publish_policy(
    session: Session, *, actor: str, policy_id: int, published_on: dt.date | None = None
) -> PolicyVersion:
    """Publish a draft version, approved by ``actor`` for its approver role; raises NotFound,
    Conflict."""
    policy = policies.get_policy_version(session, policy_id=policy_id)
    if policy.status != policies.DRAFT:
        raise Conflict(f"{policy.policy_key} v{policy.version} is already published")
    before = policy_snapshot(policy)
    policy.status = policies.PUBLISHED
    policy.approved_by = actor
    policy.published_on = published_on or utcnow().date()
    session.flush()
    record_change(
        session,
        actor=actor,
        action="policy.publish",
        object_type="policy",
        object_id=f"{policy.policy_key}@{policy.version}",
        before=before,
        after=policy_snapshot(policy),
    )
    return policy


# Acknowledgements ----------------------------------------------------------------------------


def _link_key(settings: ServerSettings) -> bytes:
    return derive_key(master_key(settings.data_dir), ACK_PURPOSE)


def acknowledgement_token(key: bytes, *, policy_id: int, person_id: int) -> str:
    """Return the secret part of one person's link for one policy version."""
    digest = hmac.new(key, f"{policy_id}:{person_id}".encode(), hashlib.sha256).hexdigest()
    return f"{policy_id}.{person_id}.{digest[:40]}"


def acknowledgement_link(settings: ServerSettings, *, policy_id: int, person_id: int) -> str:
    """Return the path (and host, when public_url is set) of a person's acknowledgement link."""
    token = acknowledgement_token(_link_key(settings), policy_id=policy_id, person_id=person_id)
    return f"{(settings.public_url or '').rstrip('/')}/acknowledge/{token}"


def resolve_token(session: Session, key: bytes, token: str) -> tuple[PolicyVersion, Person]:
    """Return the policy version and person a link stands for; raises NotFound for any
    link that is malformed, forged or for a policy that is not published."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise NotFound("acknowledgement link", "")
    policy_id, person_id = int(parts[0]), int(parts[1])
    if policy_id > 2**31 - 1 or person_id > 2**31 - 1:
        raise NotFound("acknowledgement link", "")
    expected = acknowledgement_token(key, policy_id=policy_id, person_id=person_id)
    if not hmac.compare_digest(expected, token):
        raise NotFound("acknowledgement link", "")
    policy = policies.get_policy_version(session, policy_id=policy_id)
    if policy.status != policies.PUBLISHED:
        raise NotFound("acknowledgement link", "")
    return policy, people.get_person(session, person_id=person_id)


def acknowledge(session: Session, *, policy: PolicyVersion, person: Person, via: str) -> bool:
    """Record that ``person`` acknowledged ``policy``; return False if they already had."""
    if policy.status != policies.PUBLISHED:
        raise GuardFailed("policy", "only a published policy can be acknowledged")
    if policies.get_acknowledgement(session, policy_id=policy.id, person_id=person.id):
        return False
    ack = policies.create_acknowledgement(
        session, policy_id=policy.id, person_id=person.id, via=via
    )
    record_change(
        session,
        actor=person.username if via == "signed_in" else f"link:{person.username}",
        action="policy.acknowledge",
        object_type="policy",
        object_id=f"{policy.policy_key}@{policy.version}",
        before=None,
        after={
            "person": person.username,
            "department": person.department,
            "via": via,
            "at": ack.at.isoformat(),
        },
    )
    return True


def acknowledge_signed_in(session: Session, *, username: str, policy_id: int) -> bool:
    """Acknowledge a policy as the signed-in user, matched to the directory by username;
    raises NotFound, GuardFailed."""
    person = people.find_person(session, username=username)
    if person is None:
        raise GuardFailed(
            "username", f"{username!r} is not in the people directory; ask an admin to add you"
        )
    policy = policies.get_policy_version(session, policy_id=policy_id)
    return acknowledge(session, policy=policy, person=person, via="signed_in")


@dataclass(frozen=True, slots=True)
class DepartmentCoverage:
    department: str
    people: int
    done: int

    @property
    def share(self) -> float:
        return self.done / self.people if self.people else 0.0


def acknowledgement_coverage(
    session: Session, *, policy: PolicyVersion
) -> list[DepartmentCoverage]:
    """Return, per department of the directory, how many people acknowledged ``policy``."""
    done = policies.count_acknowledged_by_department(session, policy_id=policy.id)
    return [
        DepartmentCoverage(department or "(none)", total, done.get(department, 0))
        for department, total in sorted(people.count_people_by_department(session).items())
    ]


def missing_acknowledgements(
    session: Session, *, policy: PolicyVersion, limit: int = 1000, with_email: bool = False
) -> list[Person]:
    """Return (up to ``limit``) people of the directory who have not acknowledged ``policy``."""
    return list(
        policies.list_unacknowledged(
            session, policy_id=policy.id, limit=limit, with_email=with_email
        )
    )


def send_reminders(
    session: Session, *, actor: str, settings: ServerSettings, policy_id: int
) -> list[str]:
    """Email each person with an address who has not acknowledged the policy version their
    own link; return the addresses written to. Raises NotFound, Conflict, DeliveryFailed."""
    policy = policies.get_policy_version(session, policy_id=policy_id)
    if policy.status != policies.PUBLISHED:
        raise Conflict("only a published policy can be acknowledged; publish it first")
    if not settings.public_url:
        raise Conflict("set public_url (the server's address) so that reminder links open")
    targets = missing_acknowledgements(session, policy=policy, limit=MAX_REMINDERS, with_email=True)
    if not targets:
        return []
    sent: list[str] = []
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            for person in targets:
                message = EmailMessage()
                message["Subject"] = f"Please read and acknowledge: {policy.title}"
                message["From"] = settings.smtp_from
                message["To"] = person.email
                link = acknowledgement_link(settings, policy_id=policy.id, person_id=person.id)
                message.set_content(
                    f"Hello {person.name or person.username},\n\n"
                    f"{policy.title} (version {policy.version}, published "
                    f"{policy.published_on}) applies to you. Please read it and acknowledge it "
                    f"here:\n\n{link}\n"
                )
                smtp.send_message(message)
                sent.append(person.email)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed("email", f"{type(exc).__name__}: {exc}") from exc
    finally:
        if sent:
            record_change(
                session,
                actor=actor,
                action="policy.remind",
                object_type="policy",
                object_id=f"{policy.policy_key}@{policy.version}",
                before=None,
                after={"reminded": len(sent)},
            )
    return sent
