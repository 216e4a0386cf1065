"""The keys that encrypt secrets at rest: channel secrets (webhook headers, tokens, URLs
with passwords, ...) and the key that signs cookies and action links are stored encrypted
(Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``), so a copy of the database (a
backup, a stolen file) gives none of them away without the key.

A stored value is ``enc:v1:<Fernet token>``; a value without the prefix is plain text from
before encryption (read as it is; migration 0019 and ``vigil secrets rotate`` encrypt it).

The keys come from ``VIGIL_SECRET_KEY`` (comma-separated Fernet keys: the first encrypts,
all decrypt, so keys can be rotated), or else from a key file (``VIGIL_SECRET_KEY_FILE``;
by default ``<SQLite file>.key`` beside the database, or ``vigil.key`` in the user's data
directory for PostgreSQL), made with mode 0600 the first time a secret is stored. A key
file is never made when the database already holds encrypted secrets: a new key could not
decrypt them, and a node must then fail loudly (``SecretKeyError``) instead.

One ``Keyring`` per database URL and process (``keyring(session)``), read once."""

from __future__ import annotations

import binascii
import hashlib
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from vigil.config import Settings
from vigil.db.engine import PRIVATE_MODE, sqlite_path
from vigil.errors import VigilError

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"
ENV = "VIGIL_SECRET_KEY"
DOCS = "docs/secrets-at-rest.md"
OPENED_MAX = 4096


class SecretKeyError(VigilError):
    """The key is missing, malformed or not the one the stored secrets were encrypted with.
    On a request: 503 with this message (never a bare 500); at start: the node stops."""

    status_code = 503
    code = "secret_key"


def new_key() -> str:
    """A fresh key for ``VIGIL_SECRET_KEY`` or a key file."""
    return Fernet.generate_key().decode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def parse_keys(text: str, source: str) -> tuple[MultiFernet, list[str]]:
    """Keys separated by commas, spaces or lines (``#`` starts a comment line), and
    their ``key_id``s."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    parts = [p for p in re.split(r"[,\s]+", "\n".join(lines)) if p]
    if not parts:
        raise SecretKeyError(f"{source} holds no key; make one with `vigil secrets new-key` "
                             f"({DOCS})")
    fernets = []
    for i, part in enumerate(parts, 1):
        try:
            fernets.append(Fernet(part))
        except (ValueError, binascii.Error):
            raise SecretKeyError(
                f"{source}: key {i} of {len(parts)} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes); make one with `vigil secrets new-key`") from None
    return MultiFernet(fernets), [key_id(p) for p in parts]


def default_key_file(url: str | URL) -> Path:
    """``<database file>.key`` for a SQLite file; else ``vigil.key`` in the user's data
    directory (``$XDG_DATA_HOME/vigil``, by default ``~/.local/share/vigil``)."""
    path = sqlite_path(url)
    if path is not None:
        return Path(path + ".key")
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "vigil" / "vigil.key"


def _create_key_file(path: Path) -> None:
    """Writes a new key to ``path`` unless a file is there (another process may be making
    it at the same moment: the first one made wins, whole)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = (f"# Vigil's key for secrets at rest ({DOCS}). Keep it, and back it up apart\n"
            f"# from the database: without it the stored channel secrets are lost.\n"
            f"{new_key()}\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, PRIVATE_MODE)  # the umask narrows os.open's mode, never widens it
        try:
            os.link(tmp, path)  # atomic, and never over a key someone else made
        except FileExistsError:
            return
    finally:
        tmp.unlink(missing_ok=True)
    log.warning("made a new key for secrets at rest in %s (mode 0600): back it up apart "
                "from the database; nodes sharing a database need the same key (%s)",
                path, ENV)


def _narrow(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700)
        except OSError as exc:
            log.warning("the key file %s is readable by others (mode %03o): %s",
                        path, mode, exc)
        else:
            log.warning("the key file %s was readable by others (mode %03o): narrowed to "
                        "%03o", path, mode, mode & 0o700)


class Keyring:
    """The keys of one database: ``encrypt`` with the first, ``decrypt`` with any. A key
    file is read once, when first needed. ``problem`` is the latest failure to decrypt
    (shown in ``/health`` until the stored secrets decrypt again)."""

    def __init__(self, *, keys: str = "", path: Path | None = None) -> None:
        self.path = path
        self.source = ENV if keys else f"the key file {path}"
        self._fernet: MultiFernet | None = None
        self._ids: list[str] = []
        if keys:
            self._fernet, self._ids = parse_keys(keys, ENV)
        self._lock = threading.Lock()
        self.problem: str | None = None
        self.spec = (keys, str(path))
        #: Values decrypted lately (the notifier opens the same channel configs each pass).
        self._opened: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        keys = settings.secret_key.get_secret_value().strip()
        if keys:
            return cls(keys=keys)
        return cls(path=Path(settings.secret_key_file or default_key_file(settings.url)))

    @property
    def loaded(self) -> bool:
        return self._fernet is not None

    def has_key(self) -> bool:
        """Whether keys are at hand (set, or a key file exists) without making any."""
        return self._fernet is not None or (self.path is not None and self.path.exists())

    def load(self, *, create: bool = True) -> MultiFernet:
        """The keys; a missing key file is made only with ``create`` (never to decrypt)."""
        if self._fernet is not None:
            return self._fernet
        with self._lock:
            if self._fernet is None:
                assert self.path is not None
                if not self.path.exists():
                    if not create:
                        raise self._fail(
                            f"the database holds encrypted secrets but {self.source} does "
                            f"not exist: set {ENV} (or VIGIL_SECRET_KEY_FILE) to the key they "
                            "were encrypted with; a new key cannot decrypt them")
                    try:
                        _create_key_file(self.path)
                    except OSError as exc:
                        raise self._fail(f"{self.source} cannot be made ({exc}): set {ENV} "
                                         "or VIGIL_SECRET_KEY_FILE") from None
                try:
                    _narrow(self.path)
                    text = self.path.read_text()
                except OSError as exc:
                    raise self._fail(f"{self.source} cannot be read: {exc}") from None
                fernet, self._ids = parse_keys(text, self.source)
                self._fernet = fernet
            return self._fernet

    def _fail(self, message: str) -> SecretKeyError:
        if message != self.problem:
            log.error("secrets at rest: %s", message)
        self.problem = message
        return SecretKeyError(message)

    def encrypt(self, plain: str) -> str:
        # surrogatepass: any str JSON can carry round-trips, never a UnicodeEncodeError.
        return PREFIX + self.load().encrypt(plain.encode("utf-8", "surrogatepass")).decode()

    def decrypt(self, value: str) -> str:
        """The plain text of a stored value (a value without the prefix is plain text
        already); SecretKeyError if none of the keys opens it."""
        if not value.startswith(PREFIX):
            return value
        plain = self._opened.get(value)
        if plain is not None:
            return plain
        token = value[len(PREFIX):].encode()
        try:
            plain = self.load(create=False).decrypt(token).decode("utf-8", "surrogatepass")
        except InvalidToken:
            raise self._fail(
                f"a stored secret cannot be decrypted with {self.source}: it was encrypted "
                f"with another key. Every node of a database needs the same {ENV} ({DOCS})"
            ) from None
        if len(self._opened) >= OPENED_MAX:
            self._opened.clear()
        self._opened[value] = plain
        return plain

    def rotate(self, value: str) -> str:
        """``value`` encrypted with the first key (plain text is encrypted)."""
        return self.encrypt(self.decrypt(value))

    def key_ids(self) -> list[str]:
        """Short fingerprints of the keys, the one that encrypts first (to tell keys apart
        in output without showing them)."""
        self.load()
        return list(self._ids)


_registry: dict[str, Keyring] = {}
#: ``keyring``'s shortcut: an engine's URL object (held, so its id stays its own) -> ring.
_by_url_object: dict[int, tuple[URL, Keyring]] = {}
_registry_lock = threading.Lock()


def _url_key(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=False)


def configure(settings: Settings) -> Keyring:
    """The keyring of ``settings``' database, as these settings give it (kept when it is
    the same as the one in use, so a key file is read once). SecretKeyError if a key in
    ``VIGIL_SECRET_KEY`` is malformed."""
    ring = Keyring.from_settings(settings)
    key = _url_key(settings.url)
    with _registry_lock:
        found = _registry.get(key)
        if found is not None and found.spec == ring.spec:
            return found
        _registry[key] = ring
        _by_url_object.clear()
        return ring


def forget(url: str | URL) -> None:
    """Drop the keyring of a database (the next use reads the settings again)."""
    with _registry_lock:
        _registry.pop(_url_key(url), None)
        _by_url_object.clear()


def keyring(where: Session | Connection | Engine) -> Keyring:
    """The keyring of the database ``where`` works on: the one ``configure`` set up (at
    start), else one from the ``VIGIL_*`` environment."""
    bind = where.get_bind() if isinstance(where, Session) else where
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    hit = _by_url_object.get(id(url))
    if hit is not None and hit[0] is url:
        return hit[1]
    key = _url_key(url)
    with _registry_lock:
        found = _registry.get(key)
    if found is None:
        found = configure(Settings(database_url=key))
    with _registry_lock:
        if _registry.get(key) is found:
            _by_url_object[id(url)] = (url, found)
    return found
