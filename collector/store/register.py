"""The AI register: one entry per governed AI use (ISO/IEC 42001 A.4.2, A.9.4), the one
declaration of its editable fields, and the queries that read it. Keyword-only; the caller owns
the transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from collector.errors import Conflict, NotFound
from collector.paging import (
    AnyColumn,
    PageRequest,
    PageRows,
    points_of_present_keys,
    read_page,
    score_by_key,
)
from collector.store.base import (
    LIKE_ESCAPE,
    Base,
    JSONType,
    UTCDateTime,
    contains_pattern,
    utcnow,
)

FieldKind = Literal["line", "text", "choice", "choices", "flag", "months", "links"]


@dataclass(frozen=True, slots=True)
class EntryField:
    """One editable field of a register entry, declared once.

    The table column, the API schema (server/register/schemas.py), the entry form and every
    label shown to people read this declaration; a test checks that all of them agree.
    ``max_length`` is in characters for text (and for each link), and the column width for a
    choice; ``max_items`` bounds the lists.
    """

    name: str
    label: str
    kind: FieldKind
    max_length: int = 0
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (stored value, label shown to people)
    default: Any = ""
    max_items: int = 0
    minimum: int = 0
    maximum: int = 0
    help: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        """Return the stored values a choice field may take, in the declared order."""
        return tuple(value for value, _label in self.choices)

    def label_of(self, value: object) -> str:
        """Return the label people see for a stored value (the value itself if undeclared)."""
        for choice, label in self.choices:
            if choice == value:
                return label
        return "" if value is None else str(value)


_TEXT_LIMIT = 4000

ENTRY_FIELDS: tuple[EntryField, ...] = (
    EntryField("title", "Title", "line", max_length=120, required=True),
    EntryField("ai_system", "AI system", "line", max_length=255, required=True),
    EntryField("business_unit", "Business unit", "line", max_length=120),
    EntryField("business_owner", "Business owner", "line", max_length=120),
    EntryField("technical_owner", "Technical owner", "line", max_length=120),
    EntryField("supplier", "Supplier", "line", max_length=255),
    EntryField("purpose", "Purpose", "text", max_length=_TEXT_LIMIT),
    EntryField(
        "data_classes",
        "Data used",
        "choices",
        default=(),
        choices=(
            ("public", "Public"),
            ("internal", "Internal"),
            ("confidential", "Confidential"),
            ("restricted", "Restricted"),
            ("personal_data", "Personal data"),
            ("special_category_personal_data", "Special-category personal data"),
            ("customer_data", "Customer data"),
            ("employee_data", "Employee data"),
            ("source_code", "Source code"),
            ("credentials_secrets", "Credentials and secrets"),
            ("financial", "Financial"),
            ("health", "Health"),
            ("ip_trade_secret", "IP and trade secrets"),
        ),
    ),
    EntryField("personal_data", "Personal data involved", "flag", default=False),
    EntryField("customer_facing", "Customer-facing use", "flag", default=False),
    EntryField("decision_support", "Supports decisions about people", "flag", default=False),
    EntryField(
        "risk_level",
        "Risk level",
        "choice",
        max_length=16,
        default="unrated",
        choices=(
            ("unrated", "Not rated"),
            ("low", "Low"),
            ("medium", "Medium"),
            ("high", "High"),
            ("critical", "Critical"),
        ),
    ),
    EntryField(
        "review_cadence_months",
        "Review every (months)",
        "months",
        default=12,
        minimum=1,
        maximum=36,
    ),
    EntryField("risk_rationale", "Risk rationale", "text", max_length=_TEXT_LIMIT),
    EntryField("controls", "Controls", "text", max_length=_TEXT_LIMIT),
    EntryField(
        "dpia_screening",
        "DPIA screening",
        "choice",
        max_length=24,
        default="not_screened",
        choices=(
            ("not_screened", "Not screened"),
            ("no_personal_data", "No personal data"),
            ("dpia_not_required", "DPIA not required"),
            ("dpia_required", "DPIA required"),
            ("dpia_completed", "DPIA completed"),
        ),
    ),
    EntryField(
        "supplier_review",
        "Supplier review",
        "choice",
        max_length=32,
        default="not_started",
        choices=(
            ("not_started", "Not started"),
            ("in_progress", "In progress"),
            ("approved", "Approved"),
            ("approved_with_conditions", "Approved with conditions"),
            ("rejected", "Rejected"),
        ),
    ),
    EntryField(
        "eu_ai_act_class",
        "EU AI Act class",
        "choice",
        max_length=32,
        default="not_assessed",
        choices=(
            ("not_assessed", "Not assessed"),
            ("not_ai_system", "Not an AI system"),
            ("minimal", "Minimal risk"),
            ("transparency_art50", "Transparency obligations (Art. 50)"),
            ("high_risk_annex_iii", "High risk (Annex III)"),
            ("high_risk_annex_i", "High risk (Annex I product)"),
            ("prohibited_art5", "Prohibited practice (Art. 5)"),
        ),
    ),
    EntryField(
        "human_oversight",
        "Human oversight",
        "choice",
        max_length=32,
        default="n/a_assistive",
        choices=(
            ("human_in_the_loop", "Human in the loop"),
            ("human_on_the_loop", "Human on the loop"),
            ("none", "None"),
            ("n/a_assistive", "Not needed (assistive use)"),
        ),
    ),
    EntryField(
        "scope_status",
        "Scope",
        "choice",
        max_length=16,
        default="in_scope",
        choices=(("in_scope", "In scope"), ("out_of_scope", "Out of scope")),
    ),
    EntryField("scope_rationale", "Scope rationale", "text", max_length=_TEXT_LIMIT),
    EntryField(
        "evidence_links",
        "Evidence links",
        "links",
        max_length=1000,
        max_items=50,
        default=(),
        help="one URL per line",
    ),
)

#: The declaration of each editable field, by name.
FIELDS: Mapping[str, EntryField] = {field.name: field for field in ENTRY_FIELDS}


def _width(name: str) -> int:
    return FIELDS[name].max_length


class RegisterEntry(Base):
    """One governed AI use: an AI system x purpose x business unit (ISO/IEC 42001 A.4.2, A.9.4)."""

    __tablename__ = "register_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[str] = mapped_column(String(16), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="under_review", index=True)
    title: Mapped[str] = mapped_column(String(_width("title")))
    ai_system: Mapped[str] = mapped_column(String(_width("ai_system")))
    service_id: Mapped[str | None] = mapped_column(String(128), index=True)
    business_unit: Mapped[str] = mapped_column(String(_width("business_unit")), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    business_owner: Mapped[str] = mapped_column(String(_width("business_owner")), default="")
    technical_owner: Mapped[str] = mapped_column(String(_width("technical_owner")), default="")
    data_classes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    decision_support: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    risk_level: Mapped[str] = mapped_column(
        String(_width("risk_level")), default=FIELDS["risk_level"].default
    )
    risk_rationale: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_conditions: Mapped[str] = mapped_column(Text, default="")
    decision_rationale: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    controls: Mapped[str] = mapped_column(Text, default="")
    review_cadence_months: Mapped[int] = mapped_column(
        Integer, default=FIELDS["review_cadence_months"].default
    )
    last_reviewed_on: Mapped[dt.date | None] = mapped_column(Date)
    next_review_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    dpia_screening: Mapped[str] = mapped_column(
        String(_width("dpia_screening")), default=FIELDS["dpia_screening"].default
    )
    supplier: Mapped[str] = mapped_column(String(_width("supplier")), default="")
    supplier_review: Mapped[str] = mapped_column(
        String(_width("supplier_review")), default=FIELDS["supplier_review"].default
    )
    eu_ai_act_class: Mapped[str] = mapped_column(
        String(_width("eu_ai_act_class")), default=FIELDS["eu_ai_act_class"].default
    )
    human_oversight: Mapped[str] = mapped_column(
        String(_width("human_oversight")), default=FIELDS["human_oversight"].default
    )
    scope_status: Mapped[str] = mapped_column(
        String(_width("scope_status")), default=FIELDS["scope_status"].default
    )
    scope_rationale: Mapped[str] = mapped_column(Text, default="")
    evidence_links: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Part of a decision (like its conditions): where a restricted use is allowed (empty:
    # anywhere), and the approved alternative to a prohibited or restricted one.
    allowed_departments: Mapped[list[str]] = mapped_column(
        JSONType, default=list, server_default="[]"
    )
    alternative: Mapped[str] = mapped_column(String(255), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class TriggerDismissal(Base):
    """A reassessment trigger a reviewer dismissed for an entry, with why."""

    __tablename__ = "trigger_dismissals"
    __table_args__ = (
        UniqueConstraint("entry_id", "trigger", name="uq_trigger_dismissals_entry_trigger"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("register_entries.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text)
    dismissed_by: Mapped[str] = mapped_column(String(64))
    dismissed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReviewNotice(Base):
    """The review reminder last emailed to an entry's owners ("due_soon" or "overdue") and the
    review date it was about: each is sent once per review date. Kept apart from the entry so
    that a reminder neither bumps the entry's version nor shows in its change feed."""

    __tablename__ = "review_notices"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("register_entries.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    review_on: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def review_notice_sent(session: Session, *, entry_id: int, kind: str, review_on: dt.date) -> bool:
    """Whether this reminder (kind, review date) was already sent for the entry."""
    notice = session.get(ReviewNotice, entry_id)
    return notice is not None and (notice.kind, notice.review_on) == (kind, review_on)


def record_review_notice(session: Session, *, entry_id: int, kind: str, review_on: dt.date) -> None:
    """Remember the reminder last sent for an entry."""
    notice = session.get(ReviewNotice, entry_id)
    if notice is None:
        session.add(ReviewNotice(entry_id=entry_id, kind=kind, review_on=review_on))
    else:
        notice.kind, notice.review_on, notice.sent_at = kind, review_on, utcnow()
    session.flush()


def dismissed_triggers(session: Session, *, entry_id: int) -> set[str]:
    """Return the reassessment triggers dismissed for an entry."""
    query = select(TriggerDismissal.trigger).where(TriggerDismissal.entry_id == entry_id)
    return set(session.scalars(query).all())


def create_trigger_dismissal(
    session: Session, *, entry_id: int, trigger: str, reason: str, dismissed_by: str
) -> TriggerDismissal:
    """Dismiss a trigger; raises Conflict when it already is."""
    if trigger in dismissed_triggers(session, entry_id=entry_id):
        raise Conflict("this trigger is already dismissed")
    dismissal = TriggerDismissal(
        entry_id=entry_id, trigger=trigger, reason=reason, dismissed_by=dismissed_by
    )
    session.add(dismissal)
    session.flush()
    return dismissal


def next_register_id(session: Session, *, year: int) -> str:
    """Return the next free id like AIR-2026-0001 (call with the audit chain lock held)."""
    prefix = f"AIR-{year}-"
    # Longest first, so AIR-2026-10000 comes after AIR-2026-9999.
    last = session.scalar(
        select(RegisterEntry.register_id)
        .where(RegisterEntry.register_id.like(f"{prefix}%"))
        .order_by(func.length(RegisterEntry.register_id).desc(), RegisterEntry.register_id.desc())
        .limit(1)
    )
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def create_register_entry(session: Session, *, register_id: str, **fields: Any) -> RegisterEntry:
    entry = RegisterEntry(register_id=register_id, **fields)
    session.add(entry)
    session.flush()
    return entry


def get_register_entry(session: Session, *, register_id: str) -> RegisterEntry:
    """Return an entry by its register id; raises NotFound."""
    entry = session.scalar(select(RegisterEntry).where(RegisterEntry.register_id == register_id))
    if entry is None:
        raise NotFound("register entry", register_id)
    return entry


def list_register_entries(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    risk_level: str | None = None,
    search: str | None = None,
    due_before: dt.date | None = None,
    limit: int | None = 500,
    offset: int = 0,
) -> Sequence[RegisterEntry]:
    """Return register entries, filtered, by register id (``limit`` None: every one)."""
    query = select(RegisterEntry).order_by(RegisterEntry.register_id).limit(limit).offset(offset)
    if statuses:
        query = query.where(RegisterEntry.status.in_(list(statuses)))
    if risk_level:
        query = query.where(RegisterEntry.risk_level == risk_level)
    if due_before is not None:
        query = query.where(RegisterEntry.next_review_on <= due_before)
    if search:
        pattern = contains_pattern(search)
        query = query.where(
            or_(
                func.lower(RegisterEntry.title).like(pattern, escape=LIKE_ESCAPE),
                func.lower(RegisterEntry.ai_system).like(pattern, escape=LIKE_ESCAPE),
                func.lower(RegisterEntry.register_id).like(pattern, escape=LIKE_ESCAPE),
                func.lower(RegisterEntry.business_unit).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    return session.scalars(query).all()


# Risk levels from the lowest; sorting on the level follows this order, not the alphabet.
RISK_ORDER = ("low", "medium", "high", "critical")
REGISTER_SORTS = ("register_id", "title", "business_unit", "owner", "risk_level", "risk",
                  "status", "next_review", "updated")  # fmt: skip


def page_register_entries(
    session: Session,
    *,
    page: PageRequest,
    statuses: Sequence[str] | None = None,
    risk_level: str | None = None,
    search: str | None = None,
    service_points: Mapping[str, int] | None = None,
    unknown_points: int = 0,
    base: int = 1,
) -> PageRows:
    """Return one page of (entry, catalogue risk score or None) and the true total.

    The score of an entry with a catalogue service is ``base`` plus the service's points
    (server.inventory.risk); an entry recorded by hand has none.
    """
    score = case(
        (RegisterEntry.service_id.is_(None), None),
        else_=base
        + points_of_present_keys(
            session, RegisterEntry.service_id, service_points or {}, unknown=unknown_points
        ),
    ).label("risk")
    query = select(RegisterEntry, score)
    counted = select(RegisterEntry.id)
    conditions: list[ColumnElement[bool]] = []
    if statuses:
        conditions.append(RegisterEntry.status.in_(list(statuses)))
    if risk_level:
        conditions.append(RegisterEntry.risk_level == risk_level)
    if search:
        pattern = contains_pattern(search)
        conditions.append(
            or_(
                *[
                    func.lower(column).like(pattern, escape=LIKE_ESCAPE)
                    for column in (
                        RegisterEntry.title,
                        RegisterEntry.ai_system,
                        RegisterEntry.register_id,
                        RegisterEntry.business_unit,
                        RegisterEntry.business_owner,
                        RegisterEntry.supplier,
                    )
                ]
            )
        )
    for condition in conditions:
        query = query.where(condition)
        counted = counted.where(condition)
    sorts: dict[str, AnyColumn] = {
        "register_id": RegisterEntry.register_id,
        "title": func.lower(RegisterEntry.title),
        "business_unit": func.lower(RegisterEntry.business_unit),
        "owner": func.lower(RegisterEntry.business_owner),
        "risk_level": score_by_key(
            RegisterEntry.risk_level, {v: n for n, v in enumerate(RISK_ORDER)}, otherwise=-1
        ),
        "risk": score,
        "status": RegisterEntry.status,
        "next_review": RegisterEntry.next_review_on,
        "updated": RegisterEntry.updated_at,
    }
    found = read_page(
        session, query, page=page, sorts=sorts, tiebreak=RegisterEntry.id, count_query=counted
    )
    return PageRows(
        rows=[(entry, None if value is None else int(value)) for entry, value in found.rows],
        total=found.total,
    )


def count_entries_by_status(session: Session) -> dict[str, int]:
    query = select(RegisterEntry.status, func.count(RegisterEntry.id)).group_by(
        RegisterEntry.status
    )
    return dict(session.execute(query).all())


def list_register_page(
    session: Session, *, after_register_id: str = "", status: str | None = None, limit: int = 500
) -> Sequence[RegisterEntry]:
    """Return up to ``limit`` entries after ``after_register_id``, in register id order: one
    page of a full read (exports) that no concurrent insert can shift."""
    query = (
        select(RegisterEntry)
        .where(RegisterEntry.register_id > after_register_id)
        .order_by(RegisterEntry.register_id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(RegisterEntry.status == status)
    return session.scalars(query).all()
