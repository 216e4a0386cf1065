"""Settings read from ``VIGIL_*`` environment variables. No I/O at import."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def normalize_database_url(url: str) -> str:
    """Pick the drivers Vigil ships with when the URL names none."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    database_url: str = "sqlite:///./vigil.db"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    #: SQLite ``synchronous`` pragma: NORMAL survives kill -9 in WAL mode; FULL survives power loss.
    sqlite_synchronous: str = Field(default="NORMAL", pattern="^(?i)(OFF|NORMAL|FULL|EXTRA)$")
    #: Past this, SQLite's write-ahead log is restarted (a brief pause of the writer).
    sqlite_wal_limit_mb: int = Field(default=256, ge=16)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    #: What one inbound request and alert may hold; more is a 422 naming the field
    #: (``integrations.base.check_event``).
    ingest_max_alerts: int = Field(default=1_000, ge=1)
    ingest_max_labels: int = Field(default=128, ge=1)
    ingest_max_label_name_chars: int = Field(default=256, ge=1)
    ingest_max_label_value_chars: int = Field(default=4_096, ge=1)
    ingest_max_name_chars: int = Field(default=1_024, ge=1)
    ingest_max_summary_chars: int = Field(default=4_096, ge=1)
    #: ... the description, and each annotation's value.
    ingest_max_description_chars: int = Field(default=32_768, ge=1)
    ingest_max_annotations: int = Field(default=128, ge=1)
    ingest_max_links: int = Field(default=32, ge=1)
    #: Alerts that may wait for a commit before new requests get 503 + Retry-After.
    queue_max_alerts: int = Field(default=50_000, ge=1)
    #: The most alerts one group commit takes.
    batch_max_alerts: int = Field(default=2_000, ge=1)
    #: Write alert-level events (alert.created, alert.resolved, ...) to the outbox too, for
    #: consumers that want every alert. Off by default: incidents are what people and
    #: webhooks subscribe to, and one outbox row per alert costs a fifth of ingest speed.
    outbox_alert_events: bool = False
    #: An alert that fires and resolves this many times within the flap window is flapping:
    #: its new alerts are kept but muted (no incident) until it has been quiet that long.
    flap_threshold: int = Field(default=5, ge=2, le=50)
    flap_window_minutes: float = Field(default=30.0, gt=0)
    #: Allocations between young-generation garbage collections (Python's default: 700).
    gc_gen0_threshold: int = Field(default=50_000, ge=100)
    #: How often the notifier looks for notifications to send.
    notify_interval_seconds: float = Field(default=0.1, gt=0)
    #: Attempts per notification before it is dead-lettered (timeline + self-alert).
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    #: How often time-driven work (severity escalation, ...) runs.
    tick_seconds: float = Field(default=5.0, gt=0)
    event_retention_days: int = Field(default=30, ge=1)
    #: Audit log entries older than this are deleted by the retention job.
    audit_retention_days: int = Field(default=365, ge=1)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    log_level: str = "info"
    #: Paging counts as degraded (``/health`` 503) while a consumer is this far behind.
    health_lag_seconds: float = Field(default=60.0, gt=0)
    #: ... or while the tick or the notifier failed this many passes in a row.
    health_max_failures: int = Field(default=3, ge=1)
    #: Failed outbox events are retried this often (backoff doubling from the base)
    #: before they are parked and a VigilConsumerFailed self-alert is raised.
    consumer_max_attempts: int = Field(default=5, ge=1, le=50)
    consumer_backoff_seconds: float = Field(default=5.0, gt=0)
    #: A dead man's switch Vigil pings while healthy (empty: none).
    heartbeat_url: str = ""
    heartbeat_interval_seconds: float = Field(default=60.0, gt=0)
    heartbeat_method: str = Field(default="POST", pattern="^(?i)(GET|POST)$")
    heartbeat_authorization: str = ""
    #: A client must send each whole request (headers and body) within this many seconds
    #: of its first byte, or its connection is closed (slow-client protection).
    http_read_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    #: Keys that encrypt channel secrets and signing keys at rest (Fernet keys, comma-
    #: separated: the first encrypts, all decrypt; docs/secrets-at-rest.md). Empty: the key
    #: file below, made on first run. Every node of one database needs the same keys.
    secret_key: SecretStr = SecretStr("")
    #: That key file; empty: ``<SQLite file>.key`` beside the database, or (PostgreSQL)
    #: ``$XDG_DATA_HOME/vigil/vigil.key`` (``~/.local/share/vigil/vigil.key``).
    secret_key_file: str = ""
    #: Sign-in through an OpenID Connect provider (docs/sign-in-oidc.md); off while the
    #: issuer is empty. The callback is ``<VIGIL_PUBLIC_URL>/auth/oidc/callback``.
    oidc_issuer: str = Field(default="", pattern=r"^(|https://\S+|http://(127\.0\.0\.1|"
                             r"localhost|\[::1\])(:\d+)?(/\S*)?)$")
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    #: Shown on the sign-in page's button ("Sign in with ...").
    oidc_provider_name: str = "single sign-on"
    oidc_scopes: str = "openid email profile"
    oidc_email_claim: str = "email"
    oidc_require_verified_email: bool = True
    #: A claim (dotted path, e.g. realm_access.roles) whose values (comma-separated lists
    #: below) give the role at each sign-in; empty: roles are managed in Vigil.
    oidc_role_claim: str = ""
    oidc_admin_values: str = ""
    oidc_responder_values: str = ""
    oidc_viewer_values: str = ""
    #: The role when no value matches (and of new users without a role claim); deny: refuse.
    oidc_default_role: str = Field(default="viewer", pattern="^(viewer|responder|admin|deny)$")
    #: Create a user at first sign-in when no user has the (verified) email.
    oidc_create_users: bool = False
    #: False: only the provider signs people in (passwords are refused) once OIDC is on.
    oidc_password_sign_in: bool = True
    #: Tests only: a file holding seconds by which this node's clock runs ahead.
    test_clock_file: str = ""

    @property
    def url(self) -> str:
        return normalize_database_url(self.database_url)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
