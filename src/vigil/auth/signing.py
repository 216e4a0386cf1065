"""The secret Vigil signs with (action links in notifications), made for itself on first
use and stored encrypted (``auth.secrets_at_rest``) in ``app_secrets``."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigil.auth.models import AppSecret
from vigil.auth.secrets_at_rest import keyring

#: The ``app_secrets`` row of the signing secret.
SIGNING_SECRET = "links"


def existing_secret(session: Session) -> bytes | None:
    """The secret if it has been made: a read, for checks that need no write lock (a token
    or cookie signed before the secret existed cannot be valid). Stored encrypted
    (``vigil.auth.secrets_at_rest``); SecretKeyError (503, clear) if the key cannot open it."""
    value = session.scalar(select(AppSecret.value).where(AppSecret.name == SIGNING_SECRET))
    return None if value is None else keyring(session).decrypt(value).encode()


def secret(session: Session) -> bytes:
    """The secret, made on first use (in a write session)."""
    found = existing_secret(session)
    if found is not None:
        return found
    keys = keyring(session)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    made = keys.encrypt(secrets.token_urlsafe(32))
    session.execute(insert(AppSecret).values(name=SIGNING_SECRET, value=made)
                    .on_conflict_do_nothing())
    value = session.scalars(select(AppSecret.value).where(AppSecret.name == SIGNING_SECRET)).one()
    return keys.decrypt(value).encode()
