"""The catalogue's records: AI services and the indicators that reveal them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """What kind of AI service an entry is."""

    CHAT_ASSISTANT = "chat_assistant"
    CODING_ASSISTANT = "coding_assistant"
    WRITING_ASSISTANT = "writing_assistant"
    IMAGE_GENERATION = "image_generation"
    VIDEO_GENERATION = "video_generation"
    VOICE_GENERATION = "voice_generation"
    AI_SEARCH = "ai_search"
    MEETING_ASSISTANT = "meeting_assistant"
    AGENT_AUTOMATION = "agent_automation"
    LLM_API_PROVIDER = "llm_api_provider"
    MODEL_HUB = "model_hub"
    LOCAL_MODEL_RUNTIME = "local_model_runtime"
    AI_IN_SAAS = "ai_in_saas"
    AI_BROWSER = "ai_browser"
    AI_SDK = "ai_sdk"
    TRANSLATION = "translation"
    PRODUCTIVITY = "productivity"
    OTHER = "other"


class IndicatorKind(StrEnum):
    """Every kind of indicator a catalogue entry can carry; each is matched its own way."""

    DOMAIN = "domain"  # the domain and all its subdomains
    HOST = "host"  # this exact host name only
    PROCESS = "process"  # executable name (".exe" and case folded)
    EXE_PATH = "exe_path"  # a path fragment of the executable
    CMDLINE = "cmdline"  # a marker inside the command line
    BUNDLE_ID = "bundle_id"  # macOS CFBundleIdentifier
    DESKTOP_ENTRY = "desktop_entry"  # Linux .desktop file id
    SNAP = "snap"
    FLATPAK = "flatpak"
    WINDOWS_APP = "windows_app"  # DisplayName in the Windows uninstall registry
    INSTALL_PATH = "install_path"  # a path fragment of an installation directory
    FOOTPRINT = "footprint"  # a folder or file a tool leaves in a home, relative to the home
    BROWSER_EXTENSION = "browser_extension"  # Chrome/Edge store id or Firefox add-on id
    IDE_EXTENSION = "ide_extension"  # VS Code publisher.name or JetBrains plugin id
    PYPI = "pypi"
    NPM = "npm"
    PORT = "port"  # a local runtime's listening TCP port
    ENV_VAR = "env_var"  # an API-key variable name (presence only)
    IP_RANGE = "ip_range"  # a vendor-published CIDR


# YAML key under ``indicators:`` for each kind.
INDICATOR_KEYS: Mapping[str, IndicatorKind] = {
    "domains": IndicatorKind.DOMAIN,
    "hosts": IndicatorKind.HOST,
    "processes": IndicatorKind.PROCESS,
    "exe_paths": IndicatorKind.EXE_PATH,
    "cmdline_markers": IndicatorKind.CMDLINE,
    "bundle_ids": IndicatorKind.BUNDLE_ID,
    "desktop_entries": IndicatorKind.DESKTOP_ENTRY,
    "snaps": IndicatorKind.SNAP,
    "flatpaks": IndicatorKind.FLATPAK,
    "windows_apps": IndicatorKind.WINDOWS_APP,
    "install_paths": IndicatorKind.INSTALL_PATH,
    "footprints": IndicatorKind.FOOTPRINT,
    "browser_extensions": IndicatorKind.BROWSER_EXTENSION,
    "ide_extensions": IndicatorKind.IDE_EXTENSION,
    "pypi": IndicatorKind.PYPI,
    "npm": IndicatorKind.NPM,
    "ports": IndicatorKind.PORT,
    "env_vars": IndicatorKind.ENV_VAR,
    "ip_ranges": IndicatorKind.IP_RANGE,
}


@dataclass(frozen=True, slots=True)
class RiskAttributes:
    """What is known of a service's data handling; ``"unknown"`` is never a guess."""

    trains_on_user_data: str = "unknown"  # "yes" | "no" | "opt_out" | "unknown"
    enterprise_tier: str = "unknown"  # "yes" | "no" | "unknown"
    zero_retention: str = "unknown"  # "yes" | "no" | "unknown"
    hq_country: str = "unknown"  # ISO 3166 alpha-2 or "unknown"
    data_residency: tuple[str, ...] = ()
    certifications: tuple[str, ...] = ()


class Severity(StrEnum):
    """How serious a sighting is: shadow AI to triage, or a published malicious service."""

    NORMAL = "normal"
    MALICIOUS = "malicious"  # the catalogue's entry carries a MaliciousReport


@dataclass(frozen=True, slots=True)
class MaliciousReport:
    """A security researcher's published report that this service (an extension posing as an
    AI tool, a session stealer...) is malicious: any sighting of it is an incident, not shadow
    AI to triage."""

    report: str  # the published report's URL
    reported_on: dt.date | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Service:
    """One known AI service and everything that reveals its use."""

    id: str
    name: str
    vendor: str
    category: Category
    indicators: Mapping[IndicatorKind, tuple[str, ...]]
    deployment: tuple[str, ...] = ()
    risk: RiskAttributes = field(default_factory=RiskAttributes)
    sources: tuple[str, ...] = ()
    last_reviewed: dt.date | None = None
    description: str = ""
    source_file: str = ""
    malicious: MaliciousReport | None = None

    def indicator_kinds(self) -> frozenset[IndicatorKind]:
        """Return the kinds of indicator this service carries."""
        return frozenset(kind for kind, values in self.indicators.items() if values)

    @property
    def severity(self) -> Severity:
        """Malicious when a published report says so, else normal."""
        return Severity.MALICIOUS if self.malicious is not None else Severity.NORMAL


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A loaded, validated set of services with its version."""

    version: str
    services: tuple[Service, ...]
    _by_id: Mapping[str, Service] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {service.id: service for service in self.services})

    def get(self, service_id: str) -> Service | None:
        """Return the service with this id, or None."""
        return self._by_id.get(service_id)

    def severity_of(self, service_id: str | None) -> Severity:
        """Return the severity this catalogue gives a sighting of a service (normal if unknown).

        The one derivation: the agent stamps its findings with it, and the collector computes
        it again from its own catalogue instead of trusting what an agent sent.
        """
        service = self._by_id.get(service_id) if service_id else None
        return service.severity if service is not None else Severity.NORMAL

    def malicious_services(self) -> tuple[Service, ...]:
        """Return the services a published report calls malicious."""
        return tuple(service for service in self.services if service.malicious is not None)
