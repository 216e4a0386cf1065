"""What of a row may be written to the audit log: secrets never are.

Channel configs are masked exactly as the API shows them (the masker ``vigil.audit_targets``
registers: ``notify.service.mask_config``);
any other value whose key names a secret (password hashes, API key hashes, integration
keys, calendar tokens, ...) is written as the mask alone, so a change still shows as one
(``•••• -> ••••``) without giving away a character."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MASK = "\u2022\u2022\u2022\u2022"
#: Per target type, how its ``config`` is masked (``(kind, config) -> masked config``).
CONFIG_MASKS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {}

#: Key names that hold a secret or something derived from one. Matched as whole words of
#: a snake_case name (``key_hash``, ``ical_token``, ``password``, ``key``), so ``group_key``
#: is not a secret but ``api_key`` is.
SECRET_WORDS = frozenset({"password", "hash", "token", "secret", "key", "sid", "auth",
                          "authorization", "credential", "credentials", "cookie"})
#: Keys that are never secrets although a word of theirs says so.
NOT_SECRET = frozenset({"group_key", "dedup_key", "group_by", "key_id", "prefix"})


def is_secret_key(name: str) -> bool:
    lowered = name.lower()
    if lowered in NOT_SECRET or lowered.endswith("_at"):  # a time, e.g. key_expires_at
        return False
    words = lowered.replace("-", "_").split("_")
    return any(w in SECRET_WORDS for w in words)


def _masked(value: Any) -> Any:
    return MASK if value not in (None, "", {}, []) else value


def _mask_nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) if isinstance(k, str) and is_secret_key(k) else _mask_nested(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_nested(v) for v in value]
    return value


def mask_values(target_type: str, values: dict[str, Any] | None) -> dict[str, Any] | None:
    """``values`` as they may be logged. ``target_type`` ``channel``: its ``config`` is
    masked by its ``kind``'s own rules, then by key names as everywhere."""
    if values is None:
        return None
    out: dict[str, Any] = {}
    for k, v in values.items():
        if is_secret_key(k):
            out[k] = _masked(v)
        elif k == "config" and target_type in CONFIG_MASKS and isinstance(v, dict):
            mask_config = CONFIG_MASKS[target_type]
            out[k] = _mask_nested(mask_config(str(values.get("kind") or ""), v))
        else:
            out[k] = _mask_nested(v)
    return out
