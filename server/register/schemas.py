"""The vocabularies of a register entry, the validated input that edits one and the entry as
the API, the exports and the webhooks show it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from collector.store.register import RegisterEntry
from server.errors import GuardFailed

RiskLevel = Literal["unrated", "low", "medium", "high", "critical"]
DpiaScreening = Literal[
    "not_screened", "no_personal_data", "dpia_not_required", "dpia_required", "dpia_completed"
]
SupplierReview = Literal[
    "not_started", "in_progress", "approved", "approved_with_conditions", "rejected"
]
EuAiActClass = Literal[
    "not_assessed",
    "not_ai_system",
    "minimal",
    "transparency_art50",
    "high_risk_annex_iii",
    "high_risk_annex_i",
    "prohibited_art5",
]
HumanOversight = Literal["human_in_the_loop", "human_on_the_loop", "none", "n/a_assistive"]
ScopeStatus = Literal["in_scope", "out_of_scope"]
DataClass = Literal[
    "public",
    "internal",
    "confidential",
    "restricted",
    "personal_data",
    "special_category_personal_data",
    "customer_data",
    "employee_data",
    "source_code",
    "credentials_secrets",
    "financial",
    "health",
    "ip_trade_secret",
]
# Free text refuses NUL (PostgreSQL cannot store it); one-line fields refuse every control
# character, and required ones need a character that str.strip() keeps (the model strips
# whitespace first, so the documented pattern must not let a blank value through).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT = r"^[^\x00]*$"
LINE = r"^[^\x00-\x1f\x7f]*$"
REQUIRED_LINE = rf"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f{_SPACE}][^\x00-\x1f\x7f]*$"
EvidenceLink = Annotated[str, StringConstraints(max_length=1000, pattern=r"^https?://[!-~]+$")]

RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)
DPIA_OUTCOMES: tuple[str, ...] = get_args(DpiaScreening)
SUPPLIER_REVIEWS: tuple[str, ...] = get_args(SupplierReview)
EU_AI_ACT_CLASSES: tuple[str, ...] = get_args(EuAiActClass)
HUMAN_OVERSIGHT: tuple[str, ...] = get_args(HumanOversight)
SCOPE_STATUSES: tuple[str, ...] = get_args(ScopeStatus)
DATA_CLASSES: tuple[str, ...] = get_args(DataClass)
# Data classes that always involve personal data (GDPR), whatever the checkbox says.
PERSONAL_DATA_CLASSES = frozenset(
    {"personal_data", "special_category_personal_data", "customer_data", "employee_data", "health"}
)
# Suggested review cadence per risk level, in months (register.md: critical P3M, high P6M).
DEFAULT_CADENCE = {"critical": 3, "high": 6, "medium": 12, "low": 12, "unrated": 12}


class EntryInput(BaseModel):
    """The editable fields of a register entry; every field bounded."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=120, pattern=REQUIRED_LINE)
    ai_system: str = Field(min_length=1, max_length=255, pattern=REQUIRED_LINE)
    business_unit: str = Field(default="", max_length=120, pattern=LINE)
    purpose: str = Field(default="", max_length=4000, pattern=TEXT)
    business_owner: str = Field(default="", max_length=120, pattern=LINE)
    technical_owner: str = Field(default="", max_length=120, pattern=LINE)
    data_classes: list[DataClass] = Field(default_factory=list, max_length=len(DATA_CLASSES))
    personal_data: bool = False
    risk_level: RiskLevel = "unrated"
    risk_rationale: str = Field(default="", max_length=4000, pattern=TEXT)
    controls: str = Field(default="", max_length=4000, pattern=TEXT)
    review_cadence_months: int = Field(default=12, ge=1, le=36)
    dpia_screening: DpiaScreening = "not_screened"
    supplier: str = Field(default="", max_length=255, pattern=LINE)
    supplier_review: SupplierReview = "not_started"
    eu_ai_act_class: EuAiActClass = "not_assessed"
    human_oversight: HumanOversight = "n/a_assistive"
    scope_status: ScopeStatus = "in_scope"
    scope_rationale: str = Field(default="", max_length=4000, pattern=TEXT)
    evidence_links: list[EvidenceLink] = Field(default_factory=list, max_length=50)

    @field_validator("data_classes")
    @classmethod
    def _canonical_order(cls, value: list[DataClass]) -> list[DataClass]:
        return [name for name in get_args(DataClass) if name in value]

    @field_validator("evidence_links", mode="before")
    @classmethod
    def _drop_blank_links(cls, value: object) -> object:
        # A form posts one link per line; blank lines are not links.
        if isinstance(value, list):
            return [link.strip() for link in value if not isinstance(link, str) or link.strip()]
        return value


def parse_entry_input(data: dict[str, Any], *, partial_of: EntryInput | None = None) -> EntryInput:
    """Validate entry fields (merged over ``partial_of`` for a patch); raises GuardFailed."""
    merged = {**(partial_of.model_dump() if partial_of else {}), **data}
    try:
        return EntryInput.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "entry"
        raise GuardFailed(field, first["msg"]) from exc


class RegisterEntryOut(EntryInput):
    register_id: str
    version: int
    status: str
    decision: str | None
    decision_conditions: str
    decision_rationale: str
    decided_by: str | None
    decided_at: dt.datetime | None
    last_reviewed_on: dt.date | None
    next_review_on: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


def entry_out(entry: RegisterEntry) -> RegisterEntryOut:
    """Return an entry as the API shows it."""
    fields = set(RegisterEntryOut.model_fields)
    return RegisterEntryOut.model_validate(
        {name: getattr(entry, name) for name in fields}, strict=False
    )
