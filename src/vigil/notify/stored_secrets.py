"""The secrets Vigil stores encrypted (``vigil.auth.secrets_at_rest``): the signing secret of
cookies and action links (``app_secrets``) and the secrets in channel configs. Checked at
start (a node whose key cannot decrypt them stops, saying why), re-encrypted with the
first key by ``vigil secrets rotate``, and shown in ``/health`` when one cannot be read."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.auth import signing
from vigil.auth.models import AppSecret
from vigil.auth.secrets_at_rest import (
    DOCS,
    ENV,
    Keyring,
    SecretKeyError,
    configure,
    is_sealed,
    keyring,
)
from vigil.config import Settings
from vigil.db import Database
from vigil.notify import service as svc
from vigil.notify.models import NotificationChannel

log = logging.getLogger(__name__)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _app_rows(session: Session) -> list[AppSecret]:
    """The ``app_secrets`` rows that are stored encrypted: the signing secret, and any
    other whose value already is (rows stored in plain text on purpose are left alone)."""
    return [r for r in session.scalars(select(AppSecret).order_by(AppSecret.name))
            if r.name == signing.SIGNING_SECRET or is_sealed(r.value)]


@dataclass
class Inventory:
    sealed: int = 0  # values stored encrypted
    plain: int = 0  # secrets still in plain text (stored before encryption at rest)


def verify(session: Session, keys: Keyring | None = None) -> Inventory:
    """Decrypts every stored secret; SecretKeyError naming how many (and where) the keys
    cannot open. Makes no key file."""
    keys = keys or keyring(session)
    found = Inventory()
    failed: list[str] = []
    values = [(f"app_secrets {r.name!r}", r.value) for r in _app_rows(session)]
    for c in session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)):
        values += [(f"channel {c.name!r}", v) for v in _strings(c.config) if is_sealed(v)]
        found.plain += svc.needs_sealing(c.kind, c.config)
    found.plain += sum(1 for _, v in values if not is_sealed(v))
    sealed = [(where, v) for where, v in values if is_sealed(v)]
    found.sealed = len(sealed)
    if not sealed:
        return found
    for where, value in sealed:
        try:
            keys.decrypt(value)
        except SecretKeyError:
            if not keys.has_key():
                raise  # says that no key is at hand
            failed.append(where)
    if failed:
        places = ", ".join(sorted(set(failed))[:5]) + (", ..." if len(set(failed)) > 5 else "")
        raise SecretKeyError(
            f"{len(failed)} of {len(sealed)} stored secrets ({places}) cannot be decrypted "
            f"with {keys.source}: they were encrypted with another key. Set {ENV} to the "
            f"key(s) the other nodes use, the one that encrypts first ({DOCS})")
    keys.problem = None
    return found


def start(db: Database, settings: Settings) -> None:
    """At start: the keys must open every stored secret, or the node stops with a clear
    message (it never makes a new signing secret in place of one it cannot read). A key
    file is made on first run, when nothing is encrypted yet."""
    keys = configure(settings)
    with db.read() as s:
        found = verify(s, keys)
    if found.sealed == 0:
        keys.load()  # first run: make the key file now (no secret is stored yet)
    if found.plain:
        log.warning("%d channel or signing secrets are stored in plain text (written "
                    "before encryption at rest): run `vigil secrets rotate` to encrypt "
                    "them", found.plain)


def health_reasons(db: Database, settings: Settings) -> list[str]:
    """Why ``/health`` fails on this node's keys, if a secret could not be decrypted
    lately (checked again each time: fixed keys clear it)."""
    keys = configure(settings)
    if keys.problem is None:
        return []
    try:
        with db.read() as s:
            verify(s, keys)
    except SecretKeyError as exc:
        return [f"secrets at rest: {exc.message}"]
    return []


@dataclass
class Rotated:
    signing: int = 0
    channels: int = 0
    values: int = 0


def rotate(session: Session) -> Rotated:
    """Every stored secret encrypted again with the first key (plain text ones too), in
    the caller's transaction: SecretKeyError (and nothing changed) if one cannot be
    decrypted."""
    keys = keyring(session)
    done = Rotated()
    for row in _app_rows(session):
        row.value = keys.rotate(row.value)
        done.signing += 1
        done.values += 1
    for c in session.scalars(select(NotificationChannel).order_by(NotificationChannel.id)):
        try:
            plain = svc.open_config(c.config, keys)
        except SecretKeyError as exc:
            raise SecretKeyError(f"channel {c.name!r}: {exc.message}") from None
        c.config = svc.seal_config(c.kind, plain, keys)
        sealed = sum(1 for v in _strings(c.config) if is_sealed(v))
        done.channels += 1 if sealed else 0
        done.values += sealed
    session.flush()
    keys.problem = None
    return done
