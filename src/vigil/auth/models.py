from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vigil.db import Base, UTCDateTime


class ApiKey(Base):
    """A secret for the management API. Only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A web sign-in. The cookie holds a random token; only its SHA-256 is stored, so the
    table cannot be used to sign in. Revoked or expired rows are kept a few days (listed
    to admins), then pruned when their person next signs in."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("uq_user_sessions_token_hash", "token_hash", unique=True),
                      Index("ix_user_sessions_user", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    #: Deleting the person deletes their sessions.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Moved forward at most every few minutes (``vigil.auth.sessions.TOUCH_EVERY``).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Absolute expiry; idle expiry is ``last_seen_at`` + ``IDLE_TIMEOUT``.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SignInAttempt(Base):
    """Failed sign-ins counted per ``scope`` (``user``: the username typed, whether or not
    such a user exists; ``address``: the client's address), and the lock they earned."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("uq_sign_in_attempts_scope_subject", "scope", "subject",
                            unique=True),
                      Index("ix_sign_in_attempts_last_failed", "last_failed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SetupToken(Base):
    """The one-time token that lets someone create the first administrator (only its
    SHA-256). At most one row: issuing a new token replaces the old one; creating the
    first administrator deletes it."""

    __tablename__ = "setup_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_tenant_username", "tenant_id", "username", unique=True),
                      Index("uq_users_oidc_identity", "tenant_id", "oidc_issuer", "oidc_subject",
                            unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    username: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    role: Mapped[str] = mapped_column(String(16), default="responder")
    #: argon2 hash for signing in to the web UI (None: cannot sign in).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: Secret of the user's iCalendar feed URL.
    ical_token: Mapped[str] = mapped_column(String(64))
    #: The OpenID Connect identity (issuer, subject) this user signs in as, linked at the
    #: first sign-in through the provider (``vigil.web.pages.sign_in_oidc``); None: not linked.
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AppSecret(Base):
    """Secrets Vigil makes for itself (the key that signs action links)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
