"""Fingerprints: the dedup identity of an alert. Versioned, so the algorithm can change
without merging old and new alerts by accident."""

from __future__ import annotations

import hashlib

from vigil.pipeline.event import AlertEvent

FINGERPRINT_VERSION = 1

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
    # Every label identifies, as in Alertmanager: "warning at 80%" and "critical at 90%" rules
    # with otherwise equal labels are two alerts that fire and resolve on their own.
    identifying = event.labels
    if not identifying:
        raise FingerprintError("an alert needs a dedup key or identifying labels")
    h.update(b"labels")
    for key in sorted(identifying):
        h.update(b"\x1f")
        h.update(key.encode())
        h.update(b"\x1e")
        h.update(identifying[key].encode())
    return h.hexdigest()
