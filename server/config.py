"""Server settings: each declared once with its default and help; read from SHADOWMAP_* env."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server.errors import SettingsError
from server.links import LINK_RULE, link_problem
from server.outbound.policy import AllowList

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ServerSettings(BaseSettings):
    """Everything the server can be told; nothing here is built at import time."""

    model_config = SettingsConfigDict(env_prefix="SHADOWMAP_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("var"), description="Directory for the SQLite database and keys.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is an SQLite file in data_dir. For PostgreSQL: "
        "postgresql+psycopg://user:pass@host/db",
    )
    host: str = Field("127.0.0.1", description="Address `shadowmap serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `shadowmap serve` listens on.")
    public_url: str | None = Field(
        None, description="URL people and agents use to reach the server (for links and cookies)."
    )
    secure_cookies: bool | None = Field(
        None, description="Mark session cookies Secure; default: on when public_url is https."
    )
    session_hours: int = Field(12, ge=1, le=24 * 30, description="Browser session lifetime.")
    login_max_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed sign-ins for one account, within login_failure_window_minutes, "
        "that lock the account for login_lockout_minutes.",
    )
    login_max_failures_per_source: int = Field(
        20,
        ge=1,
        le=10000,
        description="Failed sign-ins from one client address, within "
        "login_failure_window_minutes, that lock sign-in from it for login_lockout_minutes.",
    )
    login_failure_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Window in which failed sign-ins are counted."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, le=24 * 60, description="How long a locked account or address waits."
    )
    login_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="Password checks (argon2, 64 MiB each) one server process runs at the same "
        "time; more sign-ins wait up to 10 s, then get 429.",
    )
    max_report_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest agent report accepted, in bytes."
    )
    ingest_concurrency: int = Field(
        8,
        ge=1,
        le=256,
        description="Agent reports one server process ingests at the same time; more wait "
        "their turn (a queue of requests is cheaper than transactions queuing on row locks).",
    )
    stale_after_minutes: int = Field(
        180, ge=1, description="A host that has not reported for this long is listed as stale."
    )
    review_due_soon_days: int = Field(
        30,
        ge=0,
        le=366,
        description="A register review is due soon when its date is at most this many days "
        "away; its owners are emailed then, and again when it is overdue.",
    )
    user_pseudonym_key: str | None = Field(
        None,
        min_length=16,
        description="When set, user names in the UI are shown as keyed-hash pseudonyms "
        "(user-0123456789) instead of as reported.",
    )
    sighting_retention_days: int = Field(
        180,
        ge=1,
        le=3650,
        description="Raw sightings and report records older than this many days are pruned by "
        "`shadowmap db prune`; inventory items and their roll-ups are kept.",
    )
    catalogue_dir: Path | None = Field(
        None, description="Catalogue YAML directory; default: the catalogue shipped with Shadowmap."
    )

    signature_bundle_dir: Path | None = Field(
        None,
        description="Signed catalogue bundles served to agents (newest version wins); "
        "default: data_dir/signatures. Write them with `shadowmap signatures build`.",
    )
    # API, integrations and scheduled reports (server/web/api_auth.py, server/reports/) --------
    api_rate_per_minute: int = Field(
        600, ge=1, description="Sustained API requests per minute allowed per token or user."
    )
    api_burst: int = Field(60, ge=1, description="API requests a token may make in one burst.")
    api_max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted on /api/v1 (not ingest)."
    )
    scheduler_enabled: bool = Field(
        True, description="Run scheduled reports and webhook deliveries inside the server."
    )
    report_cron: str = Field(
        "0 7 * * mon", description="When the weekly discovery report runs (crontab, UTC)."
    )
    report_email_to: str = Field(
        "", description="Comma-separated addresses that receive scheduled reports by email."
    )
    report_folder: Path | None = Field(
        None, description="Folder that receives a copy of each scheduled report's files."
    )
    report_webhook_url: str | None = Field(
        None, description="URL that receives a signed JSON notice of each finished report."
    )
    smtp_host: str = Field("localhost", description="SMTP server for report emails.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(None, description="SMTP password, if the server needs one.")
    smtp_from: str = Field("shadowmap@localhost", description="Sender address of report emails.")
    webhook_poll_seconds: int = Field(
        10, ge=1, le=3600, description="How often pending webhook deliveries are sent."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=50, description="Attempts before a webhook delivery is marked failed."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of one webhook delivery request, in seconds."
    )
    webhook_concurrency: int = Field(
        16,
        ge=1,
        le=256,
        description="Webhook deliveries one delivery round sends at the same time (over all "
        "endpoints; outbound_per_destination bounds each endpoint).",
    )
    webhook_max_pending: int = Field(
        10_000,
        ge=10,
        description="Pending deliveries kept per webhook endpoint and lane (its inventory "
        "events, its register events); events beyond it are dropped and counted "
        "(dropped_events in GET /api/v1/webhooks, and a log line).",
    )
    # Outbound HTTP (server/outbound/: webhooks, report webhook, integrations) ---------------
    outbound_allow: str = Field(
        "",
        description="Comma-separated IP networks (CIDR) and host names that outbound HTTP "
        "(webhooks, the report webhook, integrations) may reach although they resolve to "
        "loopback, private, link-local, unique-local or other non-public addresses, e.g. "
        "127.0.0.1/32,hooks.internal. Cloud metadata addresses are reached only when an entry "
        "names that single address. Empty: public addresses only.",
    )
    outbound_per_destination: int = Field(
        4,
        ge=1,
        le=64,
        description="Outbound requests one client sends to one host and port at the same time.",
    )
    # Ingest limits (collector/ingest.py) ------------------------------------------------------
    ingest_max_new_items_per_report: int = Field(
        500,
        ge=1,
        description="New inventory items one agent report may create; findings beyond it are "
        "deferred (not stored) and named in the ingest response; the agent's next full report "
        "sends them again.",
    )
    ingest_max_new_items_per_agent_hour: int = Field(
        2_000,
        ge=1,
        description="New inventory items one agent may create per clock hour (UTC); findings "
        "beyond it are deferred as for the per-report limit.",
    )
    # CISO Assistant connector (server/integrations/ciso_assistant.py, docs/integrations.md) --
    ciso_assistant_url: str | None = Field(
        None,
        description="CISO Assistant API root that `shadowmap integrations ciso-assistant push` "
        "writes to, e.g. https://ciso.example.com/api",
    )
    ciso_assistant_token: SecretStr | None = Field(
        None,
        description="CISO Assistant personal access token (sent as `Authorization: Token`); "
        "never logged or stored. Prefer ciso_assistant_token_file.",
    )
    ciso_assistant_token_file: Path | None = Field(
        None, description="File holding the CISO Assistant personal access token (one line)."
    )
    ciso_assistant_folder_id: str | None = Field(
        None,
        pattern=_UUID,
        description="UUID of the CISO Assistant folder (domain) that receives the assets, "
        "applied controls and evidence.",
    )
    ciso_assistant_risk_assessment_id: str | None = Field(
        None,
        pattern=_UUID,
        description="UUID of the CISO Assistant risk assessment that receives one risk scenario "
        "per pushed entry; unset: no risk scenarios are pushed.",
    )
    ciso_assistant_on_drift: Literal["keep", "overwrite"] = Field(
        "keep",
        description="When a field Shadowmap pushed was edited in CISO Assistant: keep the edit "
        "(and report it at every push) or overwrite it with Shadowmap's value.",
    )
    ciso_assistant_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Timeout of each request to CISO Assistant, in seconds."
    )
    ciso_assistant_max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per request to CISO Assistant on 5xx answers or connection "
        "errors (exponential backoff from 1 s).",
    )

    @field_validator("outbound_allow")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        AllowList.parse(value)  # ValueError names the bad entry
        return value

    organisation_domains: str = Field(
        "",
        description="Comma-separated mail domains of the organisation (example.com, "
        "example.co.uk). Pushed to agents: a browser profile signed in with an account of one of "
        "them is a corporate profile; one signed in with a public mail provider is personal.",
    )

    @field_validator("organisation_domains")
    @classmethod
    def _domains(cls, value: str) -> str:
        domains = [part.strip().lower().rstrip(".") for part in value.split(",") if part.strip()]
        for domain in domains:
            if len(domain) > 253 or not _DOMAIN.match(domain):
                raise ValueError(f"{domain!r} is not a domain name")
        if len(domains) > 256:
            raise ValueError("at most 256 domains")
        return ",".join(dict.fromkeys(domains))

    def organisation_domain_list(self) -> list[str]:
        """Return the organisation's mail domains, normalised (lower case, no duplicates)."""
        return [domain for domain in self.organisation_domains.split(",") if domain]

    # SIEM output (server/siem/, docs/integrations.md) ----------------------------------------
    siem_syslog_address: str | None = Field(
        None,
        pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$",
        description="host:port of a syslog receiver that takes RFC 5424 over TLS (RFC 5425, "
        "octet-counted), e.g. siem.example.com:6514; unset: no syslog output.",
    )
    siem_syslog_format: Literal["cef", "json", "ecs"] = Field(
        "cef",
        description="Payload of each syslog message: cef (ArcSight CEF), json (Shadowmap's "
        "event) or ecs (an Elastic Common Schema document).",
    )
    siem_syslog_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the syslog receiver's certificate; "
        "default: the system's trust store.",
    )
    siem_syslog_server_name: str | None = Field(
        None,
        description="Name the receiver's certificate must carry; default: the host of "
        "siem_syslog_address.",
    )
    siem_syslog_client_cert_file: Path | None = Field(
        None, description="PEM client certificate for receivers that require mutual TLS."
    )
    siem_syslog_client_key_file: Path | None = Field(
        None, description="PEM private key of siem_syslog_client_cert_file."
    )
    siem_ecs_file: Path | None = Field(
        None,
        description="File that receives each event as one ECS JSON line (for Filebeat or "
        "Elastic Agent to ship); unset: no file output.",
    )
    siem_max_backlog: int = Field(
        100_000,
        ge=10,
        le=10_000_000,
        description="Events kept per destination while it is unreachable; past this the "
        "oldest are dropped and counted.",
    )
    siem_batch_size: int = Field(
        500, ge=1, le=10_000, description="Events sent to a destination in one connection."
    )
    siem_poll_seconds: int = Field(
        10, ge=1, le=3600, description="How often new events are collected and sent."
    )
    siem_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="Timeout of each connection to the syslog receiver."
    )

    # Single sign-on with OpenID Connect (server/sso/, docs/integrations.md) -----------------
    sso_issuer: str | None = Field(
        None,
        description="Issuer URL of the OpenID provider (its discovery document is at "
        "<issuer>/.well-known/openid-configuration); unset: local accounts only.",
    )
    sso_client_id: str | None = Field(
        None, max_length=255, description="Client id Shadowmap is registered under."
    )
    sso_client_secret: SecretStr | None = Field(
        None, description="Client secret (client_secret_basic); prefer sso_client_secret_file."
    )
    sso_client_secret_file: Path | None = Field(
        None, description="File holding the client secret (one line)."
    )
    sso_display_name: str = Field(
        "single sign-on",
        max_length=64,
        description='What the sign-in button calls the provider ("Sign in with ...").',
    )
    sso_scopes: str = Field(
        "openid profile email groups",
        pattern=r"^openid( [!#-\[\]-~]+)*$",
        description="Scopes asked for; must start with openid.",
    )
    sso_username_claim: str = Field(
        "preferred_username",
        description="ID token claim that gives a just-in-time user's username (falls back to "
        "email).",
    )
    sso_role_claim: str = Field(
        "groups", description="ID token claim that lists the person's groups (or roles)."
    )
    sso_role_map: str = Field(
        "",
        max_length=4000,
        description="Group to role mapping, e.g. 'ai-governance-admins=admin,"
        "ai-reviewers=reviewer,staff=viewer'; the highest role a person's groups give wins, "
        "at every sign-in.",
    )
    sso_default_role: Literal["viewer", "reviewer", "admin"] | None = Field(
        None,
        description="Role of someone whose groups map to none; unset: such a person is refused.",
    )
    sso_local_login: Literal["admins", "all"] = Field(
        "admins",
        description="With single sign-on on, who may still sign in with a local password: "
        "admins only (the break-glass account) or every local account.",
    )
    sso_clock_skew_seconds: int = Field(
        60, ge=0, le=600, description="Clock difference allowed when checking token times."
    )

    @field_validator("public_url", "ciso_assistant_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("public_url")
    @classmethod
    def _public_link(cls, value: str | None) -> str | None:
        # Links to entries are built from it and pushed to CISO Assistant, which refuses
        # what Django's URL check refuses (a host name without a dot, for one).
        if value is not None and link_problem(value) is not None:
            raise ValueError(f"{link_problem(value)} {LINK_RULE}")
        return value

    @field_validator("sso_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        # Kept exactly as given (some issuers end with "/"): it is compared with each token's
        # iss. An issuer is https; plain http only on this machine (a provider for tests).
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        if value is not None and value.startswith("http://"):
            host = value.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                raise ValueError("must be https:// (http:// only for 127.0.0.1 or localhost)")
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'shadowmap.db').resolve()}"

    def resolved_bundle_dir(self) -> Path:
        return self.signature_bundle_dir or self.data_dir / "signatures"

    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return bool(self.public_url and self.public_url.startswith("https://"))


def load_settings(**overrides: object) -> ServerSettings:
    """Read settings from the environment plus overrides; raises SettingsError naming the field."""
    try:
        return ServerSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        raise SettingsError(f"invalid setting {field!r}: {first['msg']}") from exc
