"""The only module that builds queries. Functions are keyword-only; the caller owns the
transaction (nothing here commits)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector.agent_models import AgentMachine
from collector.credentials import hash_secret, new_secret
from collector.errors import (
    AuthenticationFailed,
    Conflict,
    EnrollmentRefused,
    IdentityConflict,
    NotFound,
)
from collector.models import (
    Agent,
    EnrollmentToken,
    Host,
    InventoryItem,
    ItemDaily,
    ItemFacet,
    ItemHost,
    Report,
    Sighting,
    User,
    Violation,
    WebSession,
    utcnow,
)


def dialect_insert(session: Session, table: Any) -> Any:
    """Return an INSERT that supports ON CONFLICT on this session's backend."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database backend {name!r}")


# Users and browser sessions ------------------------------------------------------------------


def create_user(session: Session, *, username: str, password_hash: str, role: str) -> User:
    """Create a user; raises Conflict if the name is taken."""
    if get_user_by_username(session, username=username) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    return user


def get_user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def create_web_session(
    session: Session, *, user: User, lifetime: dt.timedelta
) -> tuple[WebSession, str]:
    """Create a browser session; return it and the cookie value (stored only hashed)."""
    token = new_secret("smws_")
    web_session = WebSession(
        token_hash=hash_secret(token),
        user_id=user.id,
        csrf_token=new_secret(""),
        expires_at=utcnow() + lifetime,
    )
    session.add(web_session)
    session.flush()
    return web_session, token


def get_web_session(session: Session, *, token: str) -> WebSession | None:
    """Return the live session for a cookie value, or None when unknown or expired."""
    found = session.get(WebSession, hash_secret(token))
    if found is None or found.expires_at <= utcnow() or found.user.disabled:
        return None
    return found


def delete_web_session(session: Session, *, token: str) -> None:
    found = session.get(WebSession, hash_secret(token))
    if found is not None:
        session.delete(found)


# Enrollment and agents -----------------------------------------------------------------------


def create_enrollment_token(
    session: Session,
    *,
    name: str,
    expires_at: dt.datetime | None,
    max_uses: int | None,
) -> tuple[EnrollmentToken, str]:
    """Create an enrollment token; return it and the secret, which is shown only once."""
    secret = new_secret("smet_")
    token = EnrollmentToken(
        name=name, token_hash=hash_secret(secret), expires_at=expires_at, max_uses=max_uses
    )
    session.add(token)
    session.flush()
    return token, secret


def list_enrollment_tokens(session: Session) -> Sequence[EnrollmentToken]:
    return session.scalars(select(EnrollmentToken).order_by(EnrollmentToken.id)).all()


def revoke_enrollment_token(session: Session, *, token_id: int) -> EnrollmentToken:
    token = session.get(EnrollmentToken, token_id)
    if token is None:
        raise NotFound("enrollment token", token_id)
    token.revoked_at = token.revoked_at or utcnow()
    return token


def _usable_enrollment_token(session: Session, secret: str) -> EnrollmentToken:
    # Lock the row so that two agents racing for the last use cannot both take it.
    token = session.scalar(
        select(EnrollmentToken)
        .where(EnrollmentToken.token_hash == hash_secret(secret))
        .with_for_update()
    )
    if token is None:
        raise AuthenticationFailed("unknown enrollment token")
    if token.revoked_at is not None:
        raise EnrollmentRefused("enrollment token revoked")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise EnrollmentRefused("enrollment token expired")
    if token.max_uses is not None and token.uses >= token.max_uses:
        raise EnrollmentRefused("enrollment token used up")
    return token


def enroll_agent(
    session: Session,
    *,
    enrollment_secret: str,
    agent_uid: str,
    hostname: str,
    os: str,
    os_version: str = "",
    arch: str = "",
) -> tuple[Agent, str]:
    """Register an agent and return it with its new credential (shown once, stored hashed).

    An agent that enrolls again under the same id keeps its host and gets a new credential.
    Raises AuthenticationFailed or EnrollmentRefused.
    """
    token = _usable_enrollment_token(session, enrollment_secret)
    token.uses += 1
    credential = new_secret("smag_")
    agent = session.scalar(select(Agent).where(Agent.agent_uid == agent_uid))
    if agent is None:
        host = Host(hostname=hostname, os=os, os_version=os_version, arch=arch)
        session.add(host)
        session.flush()
        agent = Agent(
            agent_uid=agent_uid,
            credential_hash=hash_secret(credential),
            host_id=host.id,
            token_id=token.id,
        )
        session.add(agent)
    else:
        agent.credential_hash = hash_secret(credential)
        agent.revoked_at = None
        agent.token_id = token.id
    session.flush()
    return agent, credential


def check_agent_machine(session: Session, *, agent: Agent, fingerprint: str) -> None:
    """Bind an agent id to the first machine fingerprint it uses; refuse any other.

    Raises IdentityConflict when the id is bound to another machine (a cloned state dir).
    """
    bound = session.get(AgentMachine, agent.id)
    if bound is None:
        session.add(AgentMachine(agent_id=agent.id, fingerprint=fingerprint))
        session.flush()
        return
    if bound.fingerprint != fingerprint:
        raise IdentityConflict(agent.agent_uid)


def authenticate_agent(session: Session, *, credential: str) -> Agent:
    """Return the agent holding a credential; raises AuthenticationFailed."""
    agent = session.scalar(select(Agent).where(Agent.credential_hash == hash_secret(credential)))
    if agent is None or agent.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked agent credential")
    return agent


# Hosts and inventory -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """An inventory item with its roll-up figures (kept on the item, see collector.ingest)."""

    item: InventoryItem
    host_count: int
    user_count: int
    sighting_count: int
    evidence_kinds: tuple[str, ...]
    browsers: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    violation_count: int = 0


def list_inventory(
    session: Session, *, state: str | None = None, limit: int = 500, offset: int = 0
) -> list[InventoryRow]:
    """Return draft inventory items with host, user and evidence roll-ups, newest first."""
    query = (
        select(InventoryItem)
        .order_by(InventoryItem.last_seen_at.desc(), InventoryItem.id)
        .limit(limit)
        .offset(offset)
        # Roll-ups are updated by Core statements at ingest: never serve stale copies.
        .execution_options(populate_existing=True)
    )
    if state is not None:
        query = query.where(InventoryItem.state == state)
    items = session.scalars(query).all()
    facets = _facets(session, [item.id for item in items])
    return [_inventory_row(item, facets.get(item.id, {})) for item in items]


def get_inventory_row(session: Session, *, item_id: int) -> InventoryRow:
    """Return one item with its roll-ups; raises NotFound."""
    item = get_inventory_item(session, item_id=item_id)
    return _inventory_row(item, _facets(session, [item.id]).get(item.id, {}))


def _inventory_row(item: InventoryItem, facets: dict[str, list[str]]) -> InventoryRow:
    return InventoryRow(
        item=item,
        host_count=item.host_count,
        user_count=item.user_count,
        sighting_count=item.sighting_count,
        evidence_kinds=tuple(facets.get("kind", ())),
        browsers=tuple(facets.get("browser", ())),
        departments=tuple(facets.get("department", ())),
        violation_count=item.violation_count,
    )


def _facets(session: Session, item_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    """Return the evidence kinds, browsers and departments of some items, sorted."""
    if not item_ids:
        return {}
    found: dict[int, dict[str, list[str]]] = {}
    query = (
        select(ItemFacet.item_id, ItemFacet.facet, ItemFacet.value)
        .where(ItemFacet.item_id.in_(item_ids), ItemFacet.facet != "user")
        .order_by(ItemFacet.item_id, ItemFacet.facet, ItemFacet.value)
    )
    for item_id, facet, value in session.execute(query):
        found.setdefault(item_id, {}).setdefault(facet, []).append(value)
    return found


def get_inventory_item(session: Session, *, item_id: int) -> InventoryItem:
    item = session.get(InventoryItem, item_id, populate_existing=True)
    if item is None:
        raise NotFound("inventory item", item_id)
    return item


def list_item_trend(
    session: Session, *, item_id: int, days: int = 90, today: dt.date | None = None
) -> list[tuple[dt.date, int]]:
    """Return (day, distinct hosts) for the last ``days`` days, zero-filled, oldest first."""
    today = today or utcnow().date()
    since = today - dt.timedelta(days=days - 1)
    rows = session.execute(
        select(ItemDaily.day, func.sum(ItemDaily.host_count))
        .where(ItemDaily.item_id == item_id, ItemDaily.day >= since)
        .group_by(ItemDaily.day)
    )
    counts: dict[dt.date, int] = {}
    for day, count in rows:
        counts[day] = int(count)
    return [(day, counts.get(day, 0)) for day in _days(since, today)]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def list_violations(
    session: Session, *, item_id: int | None = None, limit: int = 1000
) -> list[tuple[Violation, Host]]:
    """Return violations (a prohibited item seen again), newest first."""
    query = (
        select(Violation, Host)
        .join(Host, Host.id == Violation.host_id)
        .order_by(Violation.last_seen_at.desc(), Violation.id)
        .limit(limit)
    )
    if item_id is not None:
        query = query.where(Violation.item_id == item_id)
    return [(violation, host) for violation, host in session.execute(query).all()]


def list_sightings(
    session: Session,
    *,
    item_id: int | None = None,
    host_id: int | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[tuple[Sighting, Host]]:
    """Return sightings (with their host) of one item or one host, newest first."""
    conditions = []
    if item_id is not None:
        conditions.append(Sighting.item_id == item_id)
    if host_id is not None:
        conditions.append(Sighting.host_id == host_id)
    query = (
        select(Sighting, Host)
        .join(Host, Host.id == Sighting.host_id)
        .where(and_(*conditions))
        .order_by(Sighting.last_seen_at.desc(), Sighting.id)
        .limit(limit)
        .offset(offset)
    )
    return [(sighting, host) for sighting, host in session.execute(query).all()]


def count_items_by_vendor(session: Session) -> dict[str, int]:
    """Return how many inventory items each (non-empty) vendor name has."""
    rows = session.execute(
        select(InventoryItem.vendor, func.count(InventoryItem.id))
        .where(InventoryItem.vendor != "")
        .group_by(InventoryItem.vendor)
    ).all()
    return {str(vendor): int(items) for vendor, items in rows}


def list_host_sightings(
    session: Session, *, host_id: int, limit: int = 1000
) -> list[tuple[Sighting, InventoryItem]]:
    """Return what was found on one host (each sighting with its item), newest first."""
    query = (
        select(Sighting, InventoryItem)
        .join(InventoryItem, InventoryItem.id == Sighting.item_id)
        .where(Sighting.host_id == host_id)
        .order_by(Sighting.last_seen_at.desc(), Sighting.id)
        .limit(limit)
    )
    return [(sighting, item) for sighting, item in session.execute(query).all()]


@dataclass(frozen=True, slots=True)
class HostRow:
    host: Host
    item_count: int
    stale: bool


def list_hosts(session: Session, *, stale_after: dt.timedelta) -> list[HostRow]:
    """Return every host with how many inventory items it shows and whether it went quiet."""
    per_host = select(ItemHost.host_id, func.count()).group_by(ItemHost.host_id)
    counts: dict[int, int] = {row[0]: row[1] for row in session.execute(per_host)}
    now = utcnow()
    hosts = session.scalars(
        select(Host).order_by(Host.hostname, Host.id).execution_options(populate_existing=True)
    ).all()
    return [
        HostRow(host=host, item_count=counts.get(host.id, 0), stale=_stale(host, now, stale_after))
        for host in hosts
    ]


def get_host_row(session: Session, *, host_id: int, stale_after: dt.timedelta) -> HostRow:
    """Return one host with its item count and staleness; raises NotFound."""
    host = get_host(session, host_id=host_id)
    count = session.scalar(select(func.count()).where(ItemHost.host_id == host_id)) or 0
    return HostRow(host=host, item_count=count, stale=_stale(host, utcnow(), stale_after))


def _stale(host: Host, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    return host.last_report_at is None or now - host.last_report_at > stale_after


def get_host(session: Session, *, host_id: int) -> Host:
    host = session.get(Host, host_id, populate_existing=True)
    if host is None:
        raise NotFound("host", host_id)
    return host


def update_host(session: Session, *, host_id: int, department: str) -> Host:
    """Set a host's department (rolled up per item from its next report); raises NotFound."""
    host = get_host(session, host_id=host_id)
    host.department = department.strip()
    session.flush()
    return host


# Retention -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PruneResult:
    sightings: int
    reports: int
    daily_rows: int


def prune(
    session: Session,
    *,
    older_than: dt.timedelta,
    trend_days: int = 90,
    now: dt.datetime | None = None,
) -> PruneResult:
    """Delete raw sightings and report records older than ``older_than``; keep the aggregates.

    Item roll-ups (host and user counts, facets, first and last seen, violations) stay; each
    item's sighting count drops by the sightings removed. Trend rows older than ``trend_days``
    go too. Pruned report ids can no longer be recognised as duplicates, so keep the period
    well beyond how long an agent retries.
    """
    now = now or utcnow()
    cutoff = now - older_than
    removed = Counter(
        session.execute(
            delete(Sighting).where(Sighting.last_seen_at < cutoff).returning(Sighting.item_id)
        ).scalars()
    )
    if removed:
        columns = inventory_table().c
        session.connection().execute(
            update(inventory_table())
            .where(columns.id == bindparam("b_id"))
            .values(sighting_count=columns.sighting_count - bindparam("b_removed")),
            [{"b_id": item_id, "b_removed": count} for item_id, count in sorted(removed.items())],
        )
    reports = _rowcount(session.execute(delete(Report).where(Report.received_at < cutoff)))
    daily = _rowcount(
        session.execute(
            delete(ItemDaily).where(ItemDaily.day < now.date() - dt.timedelta(days=trend_days - 1))
        )
    )
    return PruneResult(sightings=sum(removed.values()), reports=reports, daily_rows=daily)


def _rowcount(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount


def inventory_table() -> Table:
    """Return the inventory items table for Core statements (typed)."""
    return cast(Table, InventoryItem.__table__)


def get_or_create_log_source(session: Session, *, source_uid: str, hostname: str) -> Agent:
    """Return the agent record standing for one client of an imported log, creating it.

    Log sources never authenticate: their credential hash is random and matches no secret.
    """
    agent = session.scalar(select(Agent).where(Agent.agent_uid == source_uid))
    if agent is not None:
        return agent
    host = Host(hostname=hostname[:255], os="other")
    session.add(host)
    session.flush()
    agent = Agent(
        agent_uid=source_uid[:128],
        credential_hash=hash_secret(new_secret("smlog_")),
        host_id=host.id,
    )
    session.add(agent)
    session.flush()
    return agent
