"""The vocabularies of a register entry, the validated input that edits one and the entry as
the API, the exports and the webhooks show it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from collector.store.register import ENTRY_FIELDS, FIELDS, RegisterEntry
from server.errors import GuardFailed
from server.links import LINK_RULE, link_problem

# Free text refuses NUL (PostgreSQL cannot store it); one-line fields refuse every control
# character, and required ones need a character that str.strip() keeps (the model strips
# whitespace first, so the documented pattern must not let a blank value through).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT = r"^[^\x00]*$"
LINE = r"^[^\x00-\x1f\x7f]*$"
REQUIRED_LINE = rf"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f{_SPACE}][^\x00-\x1f\x7f]*$"
REQUIRED_TEXT = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
LINK = r"^https?://[!-~]+$"
# What the OpenAPI document promises for an evidence link: a plain subset of what the server
# accepts (server/links.py, CISO Assistant's rule), so that any link written to this pattern is
# accepted: localhost, a dotted-decimal IPv4 address or a dotted DNS name with a letters-only
# top-level domain, an optional port, then a path, query or fragment of printable ASCII.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
DOCUMENTED_LINK = (
    rf"^https?://(localhost|{_OCTET}(\.{_OCTET}){{3}}|({_DNS_LABEL}\.){{1,4}}[A-Za-z]{{2,24}})"
    r"(:[0-9]{1,5})?([/?#][!-~]*)?$"
)

RISK_LEVELS: tuple[str, ...] = FIELDS["risk_level"].values
DATA_CLASSES: tuple[str, ...] = FIELDS["data_classes"].values
# Data classes that always involve personal data (GDPR), whatever the checkbox says.
PERSONAL_DATA_CLASSES = frozenset(
    {"personal_data", "special_category_personal_data", "customer_data", "employee_data", "health"}
)
# Suggested review cadence per risk level, in months (critical every 3, high every 6).
DEFAULT_CADENCE = {"critical": 3, "high": 6, "medium": 12, "low": 12, "unrated": 12}


def _declared(name: str) -> Any:
    """Return the pydantic Field for a declared entry field: its limits, pattern and choices."""
    spec = FIELDS[name]
    if spec.kind == "line":
        if spec.required:
            return Field(min_length=1, max_length=spec.max_length, pattern=REQUIRED_LINE)
        return Field(default=spec.default, max_length=spec.max_length, pattern=LINE)
    if spec.kind == "text":
        return Field(default=spec.default, max_length=spec.max_length, pattern=TEXT)
    if spec.kind == "choice":
        return Field(
            default=spec.default, json_schema_extra={"enum": list(spec.values), "type": "string"}
        )
    if spec.kind == "choices":
        return Field(
            default_factory=list,
            max_length=len(spec.choices),
            json_schema_extra={"items": {"enum": list(spec.values), "type": "string"}},
        )
    if spec.kind == "flag":
        return Field(default=spec.default)
    if spec.kind == "months":
        return Field(default=spec.default, ge=spec.minimum, le=spec.maximum)
    return Field(  # links
        default_factory=list,
        max_length=spec.max_items,
        json_schema_extra={
            "items": {"type": "string", "maxLength": spec.max_length, "pattern": DOCUMENTED_LINK}
        },
    )


_CHOICE_FIELDS = tuple(field.name for field in ENTRY_FIELDS if field.kind == "choice")


class EntryInput(BaseModel):
    """The editable fields of a register entry; every field bounded by its declaration
    (collector.store.register.ENTRY_FIELDS)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = _declared("title")
    ai_system: str = _declared("ai_system")
    business_unit: str = _declared("business_unit")
    purpose: str = _declared("purpose")
    business_owner: str = _declared("business_owner")
    technical_owner: str = _declared("technical_owner")
    data_classes: list[str] = _declared("data_classes")
    personal_data: bool = _declared("personal_data")
    customer_facing: bool = _declared("customer_facing")
    decision_support: bool = _declared("decision_support")
    risk_level: str = _declared("risk_level")
    risk_rationale: str = _declared("risk_rationale")
    controls: str = _declared("controls")
    review_cadence_months: int = _declared("review_cadence_months")
    dpia_screening: str = _declared("dpia_screening")
    supplier: str = _declared("supplier")
    supplier_review: str = _declared("supplier_review")
    eu_ai_act_class: str = _declared("eu_ai_act_class")
    human_oversight: str = _declared("human_oversight")
    scope_status: str = _declared("scope_status")
    scope_rationale: str = _declared("scope_rationale")
    evidence_links: list[str] = _declared("evidence_links")

    @field_validator(*_CHOICE_FIELDS)
    @classmethod
    def _one_of_the_choices(cls, value: str, info: ValidationInfo) -> str:
        allowed = FIELDS[str(info.field_name)].values
        if value not in allowed:
            raise ValueError(f"Input should be {', '.join(repr(v) for v in allowed)}")
        return value

    @field_validator("data_classes")
    @classmethod
    def _canonical_order(cls, value: list[str]) -> list[str]:
        allowed = DATA_CLASSES
        unknown = [name for name in value if name not in allowed]
        if unknown:
            raise ValueError(f"unknown data class {unknown[0]!r}")
        return [name for name in allowed if name in value]

    @field_validator("evidence_links", mode="before")
    @classmethod
    def _drop_blank_links(cls, value: object) -> object:
        # A form posts one link per line; blank lines are not links.
        if isinstance(value, list):
            # Anything but text is left for the list[str] check to refuse (422), not stripped.
            return [
                link.strip() if isinstance(link, str) else link
                for link in value
                if not isinstance(link, str) or link.strip()
            ]
        return value

    @field_validator("evidence_links")
    @classmethod
    def _links_are_links(cls, value: list[str]) -> list[str]:
        spec = FIELDS["evidence_links"]
        for link in value:
            if len(link) > spec.max_length or not re.match(LINK, link):
                raise ValueError(f"not an http(s) link of at most {spec.max_length} characters")
            if (problem := link_problem(link)) is not None:
                # What CISO Assistant would refuse (e.g. a host name without a dot).
                raise ValueError(f"{link!r}: {problem} {LINK_RULE}")
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


def plain_error(field: str, message: str) -> str:
    """Say a validation message about a declared field in plain words, without patterns."""
    spec = FIELDS.get(field)
    label = spec.label if spec else field.replace("_", " ").capitalize()
    if "at least 1 character" in message or message == "Field required":
        return f"{label} is required"
    too_long = re.search(r"at most (\d+) characters", message)
    if too_long:
        return f"{label} is too long: at most {too_long.group(1)} characters"
    if "should match pattern" in message:
        if spec is not None and spec.kind == "line" and spec.required:
            return f"{label} is required, on one line, without control characters"
        return f"{label} contains characters that cannot be stored (control characters)"
    if "Input should be" in message and spec is not None and spec.choices:
        return f"choose one of: {', '.join(label for _v, label in spec.choices)}"
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    return f"{label}: {message[:200]}"


def entry_form_errors(data: dict[str, Any]) -> tuple[EntryInput | None, dict[str, str]]:
    """Validate a posted entry form; return the input, or every field's error in plain words."""
    try:
        return EntryInput.model_validate(data), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "entry"
            errors.setdefault(field, plain_error(field, str(error["msg"])))
        return None, errors


class RegisterEntryOut(EntryInput):
    register_id: str
    version: int
    status: str
    decision: str | None
    decision_conditions: str
    allowed_departments: list[str]
    alternative: str
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
