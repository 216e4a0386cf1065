"""Fingerprints: the dedup identity of an alert. Versioned, so the algorithm can change
without merging old and new alerts by accident."""

from __future__ import annotations

import hashlib

from vigil.pipeline.event import AlertEvent

FINGERPRINT_VERSION = 1

#: Labels that describe an alert but do not identify it.
NON_IDENTIFYING_LABELS = frozenset({"severity", "priority", "urgency"})


class FingerprintError(ValueError):
    pass


def fingerprint(event: AlertEvent, *, integration_id: int) -> str:
    """sha256 over the integration and either the source's key or the identifying labels.

    Never from the name alone: an event with neither a key nor labels other than its
    name is refused by the parsers, which always give one or the other.
    """
    h = hashlib.sha256()
    h.update(f"v{FINGERPRINT_VERSION}\x1f{integration_id}\x1f".encode())
    if event.dedup_key:
        h.update(b"key\x1f")
        h.update(event.dedup_key.encode())
        return h.hexdigest()
    identifying = {k: v for k, v in event.labels.items() if k not in NON_IDENTIFYING_LABELS}
    if not identifying:
        raise FingerprintError("an alert needs a dedup key or identifying labels")
    h.update(b"labels")
    for key in sorted(identifying):
        h.update(b"\x1f")
        h.update(key.encode())
        h.update(b"\x1e")
        h.update(identifying[key].encode())
    return h.hexdigest()
