"""Fingerprints: the dedup identity of an alert. Versioned, so the algorithm can change
without merging old and new alerts by accident."""

from __future__ import annotations

import hashlib

from vigil.core.event import AlertEvent

FINGERPRINT_VERSION = 1

class FingerprintError(ValueError):
    pass


def fingerprint(event: AlertEvent, *, integration_id: int) -> str:
    """sha256 over the integration and either the source's key or the identifying labels.

    Never from the name alone: an event with neither a key nor labels other than its
    name is refused by the parsers, which always give one or the other.
    """
    head = f"v{FINGERPRINT_VERSION}\x1f{integration_id}\x1f"
    if event.dedup_key:
        return hashlib.sha256(f"{head}key\x1f{event.dedup_key}".encode()).hexdigest()
    # Every label identifies, as in Alertmanager: "warning at 80%" and "critical at 90%" rules
    # with otherwise equal labels are two alerts that fire and resolve on their own.
    labels = event.labels
    if not labels:
        raise FingerprintError("an alert needs a dedup key or identifying labels")
    # "k\x1ev" per label, sorted by name (names are unique, so sorting the pairs sorts by
    # name), joined by "\x1f".
    material = "\x1f".join(map("\x1e".join, sorted(labels.items())))
    return hashlib.sha256(f"{head}labels\x1f{material}".encode()).hexdigest()
