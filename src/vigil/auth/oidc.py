"""OpenID Connect sign-in, the parts that are not web routes: the provider's discovery
document and keys, the authorization request (code + PKCE, through Authlib), the code
exchange, the id_token's verification (signature against the JWKS, iss, aud, azp, exp,
iat, nonce, at_hash) and role mapping from a claim.

The flow's secrets (state, nonce, PKCE verifier, where to go after) travel in a cookie
encrypted and authenticated (AES-GCM) under a key derived from Vigil's own secret, with
an expiry read from Vigil's clock: the browser carries it but can neither read nor forge
it. Everything here raises ``OidcError`` (a status and a message for the person) and
never lets a provider's answer become a 500."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from vigil.config import Settings

#: How long a sign-in may take at the provider before its state cookie expires.
FLOW_LIFETIME = timedelta(minutes=10)
#: Clock skew allowed when checking the id_token's exp, iat and nbf.
LEEWAY_SECONDS = 60
#: How long discovery documents and key sets are reused (keys are refetched at once when
#: a token names a key we do not know).
CACHE_SECONDS = 3600.0
TIMEOUT = httpx.Timeout(10.0)
ROLES_HIGH_FIRST = ("admin", "responder", "viewer")


class OidcError(Exception):
    """A sign-in that cannot go on: ``status`` (4xx, or 502 when the provider is down)
    and a message that tells the person what happened."""

    def __init__(self, status: int, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: A short machine word for the audit log (bad_state, id_token, unknown_email...).
        self.reason = reason


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url}/auth/oidc/callback"


# --- the provider's metadata and keys ---------------------------------------------------

@dataclass
class _Cached:
    at: float
    value: dict[str, Any]


_cache: dict[str, _Cached] = {}
_cache_lock = threading.Lock()


def _get_json(url: str, what: str) -> dict[str, Any]:
    try:
        resp = httpx.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcError(502, f"The identity provider did not answer ({what}).",
                        reason="provider_unreachable") from exc
    if resp.status_code != 200:
        raise OidcError(502, f"The identity provider answered {resp.status_code} ({what}).",
                        reason="provider_error")
    try:
        body = resp.json()
    except ValueError as exc:
        raise OidcError(502, f"The identity provider sent no JSON ({what}).",
                        reason="provider_error") from exc
    if not isinstance(body, dict):
        raise OidcError(502, f"The identity provider sent no JSON object ({what}).",
                        reason="provider_error")
    return body


def _cached(key: str, load: Any, force: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and not force and now - hit.at < CACHE_SECONDS:
        return hit.value
    value: dict[str, Any] = load()
    with _cache_lock:
        _cache[key] = _Cached(now, value)
    return value


def metadata(settings: Settings) -> dict[str, Any]:
    """The issuer's discovery document, whose ``issuer`` must be the one configured."""
    issuer = settings.oidc_issuer.rstrip("/")

    def load() -> dict[str, Any]:
        doc = _get_json(f"{issuer}/.well-known/openid-configuration", "discovery")
        if str(doc.get("issuer", "")).rstrip("/") != issuer:
            raise OidcError(502, "The identity provider's discovery document names another "
                            "issuer than VIGIL_OIDC_ISSUER.", reason="provider_error")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(field), str):
                raise OidcError(502, f"The identity provider's discovery document has no "
                                f"{field}.", reason="provider_error")
        return doc

    return _cached(f"meta:{issuer}", load)


def key_set(meta: dict[str, Any], force: bool = False) -> KeySet:
    uri = str(meta["jwks_uri"])
    jwks = _cached(f"jwks:{uri}", lambda: _get_json(uri, "keys"), force)
    try:
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcError(502, "The identity provider's key set cannot be read.",
                        reason="provider_error") from exc


# --- the flow's state, in an encrypted cookie ---------------------------------------------

@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str
    to: str
    expires: int


def _aead(secret: bytes, settings: Settings) -> AESGCM:
    # Bound to the provider and client: a cookie made for another configuration is void.
    info = f"vigil oidc flow\x00{settings.oidc_issuer}\x00{settings.oidc_client_id}".encode()
    return AESGCM(hmac.new(secret, info, hashlib.sha256).digest())


def new_flow(to: str, now: datetime) -> Flow:
    safe = to if to.startswith("/") and not to.startswith("//") and "\\" not in to else "/ui"
    return Flow(secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                secrets.token_urlsafe(48), safe, int((now + FLOW_LIFETIME).timestamp()))


def seal(flow: Flow, secret: bytes, settings: Settings) -> str:
    body = json.dumps({"s": flow.state, "n": flow.nonce, "v": flow.verifier, "t": flow.to,
                       "e": flow.expires}, separators=(",", ":")).encode()
    iv = secrets.token_bytes(12)
    sealed = iv + _aead(secret, settings).encrypt(iv, body, b"vigil-oidc-flow")
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def unseal(value: str | None, secret: bytes | None, settings: Settings,
           now: datetime) -> Flow | None:
    """The flow the cookie holds, or None if it is missing, forged, or expired."""
    if not value or secret is None or len(value) > 4096:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        body = _aead(secret, settings).decrypt(raw[:12], raw[12:], b"vigil-oidc-flow")
        data = json.loads(body)
        flow = Flow(str(data["s"]), str(data["n"]), str(data["v"]), str(data["t"]),
                    int(data["e"]))
    except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
        return None
    return flow if flow.expires > now.timestamp() else None


# --- the authorization request and the code exchange --------------------------------------

def _client(settings: Settings, meta: dict[str, Any]) -> Any:
    method = "none"
    if settings.oidc_client_secret:
        supported = meta.get("token_endpoint_auth_methods_supported") or []
        method = ("client_secret_post" if "client_secret_basic" not in supported
                  and "client_secret_post" in supported else "client_secret_basic")
    return OAuth2Client(client_id=settings.oidc_client_id,
                        client_secret=settings.oidc_client_secret or None,
                        token_endpoint_auth_method=method, scope=settings.oidc_scopes,
                        redirect_uri=redirect_uri(settings), code_challenge_method="S256",
                        timeout=TIMEOUT)


def authorization_url(settings: Settings, flow: Flow) -> str:
    meta = metadata(settings)
    with _client(settings, meta) as client:
        url, _ = client.create_authorization_url(
            meta["authorization_endpoint"], state=flow.state, code_verifier=flow.verifier,
            nonce=flow.nonce)
    return str(url)


def exchange(settings: Settings, code: str, flow: Flow) -> dict[str, Any]:
    """The token response for ``code`` (sent with the PKCE verifier)."""
    meta = metadata(settings)
    with _client(settings, meta) as client:
        try:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code",
                                       code=code, code_verifier=flow.verifier)
        except OAuthError as exc:
            raise OidcError(400, f"The identity provider refused the sign-in code "
                            f"({exc.error}).", reason="token_refused") from exc
        except httpx.HTTPError as exc:
            raise OidcError(502, "The identity provider's token endpoint did not answer.",
                            reason="provider_unreachable") from exc
        except ValueError as exc:  # not JSON
            raise OidcError(502, "The identity provider's token endpoint sent no JSON.",
                            reason="provider_error") from exc
    if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
        raise OidcError(400, "The identity provider sent no id_token (is the openid scope "
                        "requested?).", reason="id_token")
    return dict(token)


def verify_id_token(raw: str, *, keys: KeySet, issuer: str, client_id: str, nonce: str,
                    now: datetime, algorithms: list[str],
                    access_token: str | None = None) -> dict[str, Any]:
    """The id_token's claims once its signature (one of ``keys``, one of ``algorithms``)
    and its claims hold: iss is the issuer, aud names the client (azp too when there are
    several audiences), not expired, issued no later than now, the nonce ours."""
    token = jwt.decode(raw, keys, algorithms=algorithms)
    options = {"iss": {"essential": True, "value": issuer},
               "aud": {"essential": True, "value": client_id},
               "sub": {"essential": True}, "exp": {"essential": True}}
    claims = CodeIDToken(token.claims, token.header, options,
                         {"nonce": nonce, "client_id": client_id, "access_token": access_token})
    claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
    if claims.get("nonce") != nonce:  # required: we always send one
        raise OidcError(400, "The id_token's nonce is not the one of this sign-in.",
                        reason="id_token")
    return dict(claims)


def identity(settings: Settings, token: dict[str, Any], flow: Flow,
             now: datetime) -> dict[str, Any]:
    """The verified claims of the signed-in person: the id_token's, plus the userinfo
    endpoint's (where many providers put email and groups) when it names the same
    subject."""
    meta = metadata(settings)
    algorithms = [a for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"]
                  if isinstance(a, str) and a != "none" and not a.startswith("HS")]
    kwargs: dict[str, Any] = {"issuer": str(meta["issuer"]),
                              "client_id": settings.oidc_client_id, "nonce": flow.nonce,
                              "now": now, "algorithms": algorithms or ["RS256"],
                              "access_token": token.get("access_token")}
    try:
        try:
            claims = verify_id_token(token["id_token"], keys=key_set(meta), **kwargs)
        except InvalidKeyIdError:  # the provider rotated its keys
            claims = verify_id_token(token["id_token"], keys=key_set(meta, force=True),
                                     **kwargs)
    except (JoseError, ValueError, TypeError, KeyError) as exc:  # (a malformed token too)
        raise OidcError(400, f"The id_token was rejected ({exc}).",
                        reason="id_token") from exc
    userinfo = meta.get("userinfo_endpoint")
    if isinstance(userinfo, str) and isinstance(token.get("access_token"), str):
        try:
            resp = httpx.get(userinfo, timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {token['access_token']}",
                                      "Accept": "application/json"})
            extra = resp.json() if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            extra = None
        if isinstance(extra, dict) and extra.get("sub") == claims["sub"]:
            claims = {**extra, **claims}
    return claims


# --- what the claims say -------------------------------------------------------------------

def claim_values(claims: dict[str, Any], path: str) -> list[str]:
    """The strings at ``path`` (dotted: ``realm_access.roles``): a list's strings, or one
    string."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _values(text: str) -> set[str]:
    return {v.strip() for v in text.split(",") if v.strip()}


def mapped_role(settings: Settings, claims: dict[str, Any]) -> str | None:
    """The highest role whose configured values the role claim holds, else None."""
    have = set(claim_values(claims, settings.oidc_role_claim))
    wanted = {"admin": _values(settings.oidc_admin_values),
              "responder": _values(settings.oidc_responder_values),
              "viewer": _values(settings.oidc_viewer_values)}
    return next((role for role in ROLES_HIGH_FIRST if have & wanted[role]), None)


def role_for(settings: Settings, claims: dict[str, Any], current: str | None) -> str | None:
    """The role to sign in with (None: refused). With a role claim configured the provider
    decides at every sign-in (its values, else the default role); without one an existing
    user keeps their role and a new one gets the default."""
    default = None if settings.oidc_default_role == "deny" else settings.oidc_default_role
    if settings.oidc_role_claim:
        return mapped_role(settings, claims) or default
    return current if current is not None else default


def verified_email(settings: Settings, claims: dict[str, Any]) -> str | None:
    """The email to match users by: the configured claim, verified unless the setting
    says the provider's addresses need no ``email_verified``."""
    email = claims.get(settings.oidc_email_claim)
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        return None
    if settings.oidc_require_verified_email:
        flag = claims.get("email_verified")
        if flag is not True and not (isinstance(flag, str) and flag.lower() == "true"):
            return None
    return email.strip().lower()
