"""One Settings object for the whole service, read from BULKMAIL_* variables and an optional .env."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, IPvAnyAddress, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.paths import default_data_dir
from app.webhooks.url_safety import AllowList

Security = Literal["starttls", "tls", "none"]

# Greylisting-friendly retry schedule: minutes after the first attempt; the row expires after the last.
DEFAULT_RETRY_MINUTES = [15, 30, 60, 90, 120, 240, 480, 960, 1440, 2880]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BULKMAIL_", env_file=".env", extra="ignore")

    # Storage and service
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="the SQLite database and uploads live here unless database_url / upload_dir say otherwise",
    )
    database_url: str = Field(default="", description="empty: SQLite at DATA_DIR/bulkmail.db")
    base_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = Field(
        default=None, description="HMAC key for VERP/unsubscribe tokens; generated and kept in the database if unset"
    )
    seal_key: SecretStr | None = Field(
        default=None,
        description="key sealing the secrets kept in the database (TOTP seeds, DKIM keys); unset: DATA_DIR/seal.key",
    )
    embedded_worker: bool = True
    scheduler: bool = True
    background_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness `bulkmail worker` takes, so sending and sweeps yield to the API",
    )
    settings_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        description="a process re-reads what the settings page saved at most this often (at once in the"
        " process that saved it); 0 = on every use",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token /metrics asks for; unset: /metrics answers clients on this machine only",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json lines, or text for people; auto: text on a terminal, else json"
    )
    max_upload_bytes: int = 200 * 1024 * 1024
    upload_dir: str = Field(
        default="", description="uploads wait here until their import finishes; empty: DATA_DIR/uploads"
    )

    # Sender identity; the envelope sender becomes noreply+TOKEN@domain (VERP)
    bounce_address: str = "noreply@localhost"
    message_id_domain: str | None = None

    # SMTP relay
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: Security = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = 30.0
    smtp_verify: bool = True
    smtp_cafile: str | None = None
    smtp_per_connection: int = 100
    smtp_connections: int = 4
    smtp_rate: float = 0.0  # messages per second, 0 = unlimited
    relay_backoff_seconds: float = Field(
        default=5.0, gt=0, description="first wait after the relay cannot be reached; it doubles each failure"
    )
    relay_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="longest wait between tries while the relay cannot be reached"
    )

    # DKIM (optional)
    dns_server: str | None = Field(
        default=None, description="DNS server (host or host:port) for MX and preflight lookups; unset: the system's"
    )
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key_file: str | None = None

    # Preflight (the checks before launch)
    spamassassin_host: str | None = Field(
        default=None, description="spamd (SpamAssassin) the preflight asks for a spam score; unset: no score"
    )
    spamassassin_port: int = Field(default=783, ge=1, le=65535)
    sending_addresses: list[IPvAnyAddress] = Field(
        default_factory=list,
        description="the addresses receivers see the mail come from (a relay provider's outbound IPs), for the"
        " preflight's SPF and PTR checks; empty: the relay host's addresses",
    )
    sending_helo_name: str | None = Field(
        default=None, description="the name the outbound server says HELO with; unset: the relay's greeting name"
    )
    preflight_cache_seconds: float = Field(
        default=300.0, ge=0, description="a campaign's preflight result is reused this long unless asked again"
    )
    preflight_max_message_bytes: int = Field(
        default=102 * 1024, ge=1024, description="a message past this size is a problem (Gmail clips at 102 KB)"
    )

    # Sending worker
    retry_minutes: list[int] = Field(default_factory=lambda: list(DEFAULT_RETRY_MINUTES))
    worker_batch: int = 200
    worker_lease_seconds: int = 300
    worker_poll_seconds: float = 1.0

    # Pacing per receiving domain (a provider's domains share one: google, microsoft, yahoo)
    pacing: bool = Field(default=True, description="pace each receiving domain (rate, throttling, warm-up)")
    pacing_rate: float = Field(
        default=0.0, ge=0, description="messages per second to one receiving domain or provider; 0 = unlimited"
    )
    pacing_concurrency: int = Field(
        default=0, ge=0, description="messages to one receiving domain or provider in flight per worker; 0 = any"
    )
    pacing_providers: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='per provider or domain: {"google": {"rate": 10, "concurrency": 4}} overrides the two above',
    )
    pacing_restart_rate: float = Field(
        default=20.0, gt=0, description="messages per second assumed for an unlimited domain when it is first throttled"
    )
    pacing_min_rate: float = Field(default=0.05, gt=0, description="throttling never halves a rate below this")
    pacing_increase: float = Field(default=1.0, gt=0, description="messages per second added back after steady success")
    pacing_increase_every: int = Field(default=50, ge=1, description="successes in a row that earn one increase")
    pacing_backoff_seconds: float = Field(
        default=60.0, gt=0, description="a throttled domain's first pause; it doubles with each throttle in a row"
    )
    pacing_backoff_max_seconds: float = Field(default=3600.0, gt=0, description="longest pause of a throttled domain")
    pacing_warmup: dict[str, list[int]] = Field(
        default_factory=dict,
        description='daily caps per provider or domain from its first day, "*" for every other one: '
        '{"google": [50, 100, 500, 1000], "*": [200, 1000]}; past the schedule: no cap',
    )

    # Templates: limits of one message's render (subject, HTML and text together), on save, preview,
    # test send and send
    render_timeout_seconds: float = Field(default=2.0, gt=0, description="CPU seconds to render one message")
    render_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="characters of one rendered message")

    # Bounce mailbox
    mailbox_protocol: Literal["imap", "pop3"] = "imap"
    mailbox_host: str | None = None
    mailbox_port: int | None = None
    mailbox_security: Security = "tls"
    mailbox_user: str | None = None
    mailbox_password: SecretStr | None = None
    mailbox_folder: str = "INBOX"
    mailbox_keep_folder: str | None = None  # IMAP: move unrecognised mail here instead of leaving it
    mailbox_cafile: str | None = None
    mailbox_verify: bool = True
    mailbox_batch: int = 500
    sweep_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="processes that classify a sweep's messages when the mailbox holds more than one batch",
    )
    sweep_interval_minutes: int = 10

    # Suppression policy
    hard_bounce_threshold: int = 1
    soft_bounce_threshold: int = 3
    soft_bounce_window_days: int = 30

    # Deliverability guards: complaint and hard-bounce rates of a campaign over 24 h and 7 days, in percent
    # of its messages out; judged once a window holds guard_min_messages (app/sending/guards.py)
    guard_complaint_warn_percent: float = Field(default=0.1, ge=0, le=100)
    guard_complaint_pause_percent: float = Field(default=0.3, ge=0, le=100, description="Gmail's limit")
    guard_bounce_warn_percent: float = Field(default=5.0, ge=0, le=100)
    guard_bounce_pause_percent: float = Field(default=10.0, ge=0, le=100)
    guard_min_messages: int = Field(default=500, ge=1, description="messages out before a rate is judged")
    guard_sweep_minutes: int = Field(
        default=2,
        ge=0,
        description="while a campaign is sending, the scheduler sweeps at least this often, so its DSNs and"
        " complaints reach the guard soon; 0 = at the sweep interval only",
    )
    guard_check_seconds: float = Field(
        default=30.0, gt=0, description="a sending worker checks its campaigns' rates at most this often"
    )

    # Opens and clicks (app/tracking): the default of a campaign that chooses none, and the machine rules' windows
    tracking: Literal["none", "anonymous", "contact"] = Field(
        default="none",
        description="none (no pixel, links as written), anonymous (counts only, no hit tied to a person) or"
        " contact (each hit tied to its delivery)",
    )
    tracking_prefetch_seconds: float = Field(
        default=10.0, ge=0, description="a message's first hit this soon after it was handed over is a machine's"
    )
    tracking_burst_seconds: float = Field(
        default=5.0, ge=0, description="every link of a message clicked within this many seconds is a scanner"
    )
    tracking_flush_ms: int = Field(default=200, ge=10, le=10_000, description="hits are written at least this often")

    # API contract and webhooks out
    api_rate_per_second: float = Field(default=50.0, description="sustained requests per second per API key; 0 = off")
    api_rate_burst: int = Field(default=200, description="requests a key may make at once before the rate applies")
    api_key_cache_seconds: float = Field(
        default=2.0,
        description="a verified API key is trusted this long without asking the database again; a revocation"
        " takes effect within it (at once in the process that revoked it); 0 = ask every request",
    )
    api_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, description="JSON request bodies (uploads: max_upload_bytes)"
    )
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: float = Field(default=30.0, description="first retry delay; it doubles each attempt")
    webhook_retry_hours: float = Field(default=24.0, description="give up this long after the event")
    webhook_poll_seconds: float = 5.0
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="networks (CIDR) and host names webhooks may reach although they are not public,"
        ' e.g. ["192.168.10.0/24", "cms.internal"]; everything else private, loopback or reserved is refused',
    )

    # Addresses
    check_mx: bool = False

    # Languages
    default_language: str = Field(
        default="en",
        description="the installation's language (en, de): of the pages when the browser names none we speak, and of "
        "the mails to a contact or invitee whose language is not known",
    )

    # Users of the web pages
    invite_valid_hours: float = Field(default=72.0, gt=0, description="an invitation link works this long, once")

    # Sign-in through the organisation's identity provider (OpenID Connect; app/users/oidc.py), beside passwords
    oidc_issuer: str = Field(
        default="",
        description="the provider's issuer URL (its discovery document is ISSUER/.well-known/openid-configuration);"
        " empty: passwords only",
    )
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_name: str = Field(default="", description='the button says "Sign in with NAME"; empty: the issuer\'s host')
    oidc_scopes: str = Field(default="openid email profile", description="the scopes asked for, space-separated")
    oidc_roles_claim: str = Field(
        default="groups",
        description="the claim that carries the user's groups or roles; a dotted name reaches into an object"
        " (Keycloak: realm_access.roles)",
    )
    oidc_roles: dict[str, str] = Field(
        default_factory=dict,
        description='claim value -> bulkmail role, e.g. {"bulkmail-admins": "admin", "marketing": "marketer"};'
        " several: the highest; none: the sign-in is refused",
    )
    oidc_create_users: bool = Field(
        default=True, description="a user the provider vouches for who has no account here gets one at first sign-in"
    )

    # Signup forms
    signup_unconfirmed_days: float = Field(
        default=7.0, gt=0, description="a double opt-in link works this long; then the unconfirmed signup is purged"
    )
    signup_rate_per_minute: float = Field(
        default=10.0, ge=0, description="signup posts per client IP a minute; 0 = off"
    )
    signup_rate_burst: int = Field(default=20, ge=1, description="signup posts one IP may make at once")
    signup_mail_poll_seconds: float = Field(
        default=5.0, gt=0, description="how often the signups taken are carried out and due signup mails sent"
    )
    # Subscribers
    preferences_valid_days: int = Field(
        default=180, gt=0, description="a message's link to the contact's preference page works this long"
    )

    @field_validator("default_language")
    @classmethod
    def _a_language_we_speak(cls, language: str) -> str:
        from app.i18n import LANGUAGES, supported

        if supported(language) != language:
            raise ValueError(f"choose one of {', '.join(LANGUAGES)}")
        return language

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _allow_list_parses(cls, entries: list[str]) -> list[str]:
        AllowList.parse(entries)  # a bad entry stops the start with its name, not the first delivery
        return entries

    @field_validator("pacing_providers")
    @classmethod
    def _pacing_overrides(cls, entries: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, values in entries.items():
            for key, value in values.items():
                if key not in ("rate", "concurrency"):
                    raise ValueError(f"{name}: {key!r} is not a pacing setting (rate, concurrency)")
                if value < 0:
                    raise ValueError(f"{name}: {key} must be 0 or more")
        return {name.lower(): values for name, values in entries.items()}

    @field_validator("pacing_warmup")
    @classmethod
    def _warmup_caps(cls, entries: dict[str, list[int]]) -> dict[str, list[int]]:
        for name, caps in entries.items():
            if not caps or any(c < 1 for c in caps):
                raise ValueError(f"{name}: the daily caps must be whole numbers of 1 or more, e.g. [50, 100, 500]")
        return {name.lower(): caps for name, caps in entries.items()}

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        from app.role_names import ROLES

        if not (self.oidc_issuer or self.oidc_client_id):
            return self
        missing = [
            f"BULKMAIL_{name.upper()}"
            for name, value in (
                ("oidc_issuer", self.oidc_issuer),
                ("oidc_client_id", self.oidc_client_id),
                ("oidc_client_secret", self.oidc_client_secret),
                ("oidc_roles", self.oidc_roles),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"sign-in through an identity provider needs {', '.join(missing)} as well")
        if not self.oidc_issuer.startswith(("https://", "http://")):
            raise ValueError("oidc_issuer: give the issuer's URL, e.g. https://login.example.org/realms/staff")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("oidc_scopes: include openid")
        wrong = sorted({role for role in self.oidc_roles.values() if role not in ROLES})
        if wrong:
            raise ValueError(f"oidc_roles: {', '.join(wrong)} is not a role; choose from {', '.join(ROLES)}")
        return self

    @model_validator(mode="after")
    def _in_the_data_dir(self) -> Self:
        # absolute paths: a relative default would follow each command's working directory
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        if not self.upload_dir:
            self.upload_dir = str(self.data_dir / "uploads")
        return self


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'bulkmail.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
