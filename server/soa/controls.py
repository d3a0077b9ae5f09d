"""The ISO/IEC 42001 Annex A control references: identifiers and short titles only (no text of
the standard), each with an indicative crosswalk to the NIST AI RMF functions and to the EU AI
Act risk classes it matters most for. The crosswalk is a judgement, not an official mapping."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Control:
    control_id: str
    title: str
    nist_ai_rmf: tuple[str, ...]
    eu_ai_act: str
    #: Which kinds of AI use (scope.ai_use_kinds) make it applicable; empty: always.
    needs_use: tuple[str, ...] = ()


_ALL = "all risk classes"
_HIGH = "high-risk"
_DEV = ("developed",)

ANNEX_A: tuple[Control, ...] = (
    Control("A.2.2", "AI policy", ("GOVERN",), _ALL),
    Control("A.2.3", "Alignment with other organisational policies", ("GOVERN",), _ALL),
    Control("A.2.4", "Review of the AI policy", ("GOVERN",), _ALL),
    Control("A.3.2", "AI roles and responsibilities", ("GOVERN",), _ALL),
    Control("A.3.3", "Reporting of concerns", ("GOVERN", "MANAGE"), _ALL),
    Control("A.4.2", "Resource documentation", ("GOVERN", "MAP"), _ALL),
    Control("A.4.3", "Data resources", ("MAP",), _HIGH),
    Control("A.4.4", "Tooling resources", ("MAP",), _ALL),
    Control("A.4.5", "System and computing resources", ("MAP",), _ALL),
    Control("A.4.6", "Human resources", ("GOVERN",), "all risk classes (AI literacy, Art. 4)"),
    Control("A.5.2", "AI system impact assessment process", ("MAP", "MEASURE"), _HIGH),
    Control("A.5.3", "Documentation of AI system impact assessments", ("MAP",), _HIGH),
    Control("A.5.4", "Assessing impact on individuals or groups", ("MAP", "MEASURE"), _HIGH),
    Control("A.5.5", "Assessing societal impacts", ("MAP",), _HIGH),
    Control("A.6.1.2", "Objectives for responsible development", ("GOVERN", "MAP"), _HIGH, _DEV),
    Control(
        "A.6.1.3", "Processes for responsible design and development", ("GOVERN",), _HIGH, _DEV
    ),
    Control("A.6.2.2", "AI system requirements and specification", ("MAP",), _HIGH, _DEV),
    Control("A.6.2.3", "Documentation of design and development", ("MAP",), _HIGH, _DEV),
    Control("A.6.2.4", "AI system verification and validation", ("MEASURE",), _HIGH, _DEV),
    Control("A.6.2.5", "AI system deployment", ("MANAGE",), _HIGH, _DEV),
    Control("A.6.2.6", "AI system operation and monitoring", ("MEASURE", "MANAGE"), _HIGH),
    Control("A.6.2.7", "AI system technical documentation", ("MAP",), _HIGH, _DEV),
    Control("A.6.2.8", "AI system recording of event logs", ("MEASURE",), _HIGH),
    Control("A.7.2", "Data for development and enhancement", ("MAP",), _HIGH, _DEV),
    Control("A.7.3", "Acquisition of data", ("MAP",), _HIGH, _DEV),
    Control("A.7.4", "Quality of data", ("MEASURE",), _HIGH, _DEV),
    Control("A.7.5", "Data provenance", ("MAP",), _HIGH, _DEV),
    Control("A.7.6", "Data preparation", ("MAP",), _HIGH, _DEV),
    Control(
        "A.8.2",
        "System documentation and information for users",
        ("GOVERN",),
        "transparency (Art. 50), high-risk",
    ),
    Control("A.8.3", "External reporting", ("GOVERN", "MANAGE"), _HIGH),
    Control("A.8.4", "Communication of incidents", ("MANAGE",), _HIGH),
    Control("A.8.5", "Information for interested parties", ("GOVERN",), _ALL),
    Control("A.9.2", "Processes for responsible use", ("GOVERN", "MANAGE"), _ALL),
    Control("A.9.3", "Objectives for responsible use", ("GOVERN",), _ALL),
    Control("A.9.4", "Intended use", ("MAP", "MANAGE"), "high-risk (deployers, Art. 26)"),
    Control("A.10.2", "Allocating responsibilities", ("GOVERN",), _ALL),
    Control("A.10.3", "Suppliers", ("GOVERN", "MANAGE"), _ALL),
    Control("A.10.4", "Customers", ("GOVERN",), _ALL, ("provided",)),
)

CONTROLS = {control.control_id: control for control in ANNEX_A}
