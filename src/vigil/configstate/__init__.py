"""Cached configuration state and the one signal that it changed.

A service that changes configuration calls ``changed(session, topic)`` in the transaction
of the change: it raises the topic's row of ``config_versions`` (and, on PostgreSQL,
sends ``NOTIFY vigil_config``), both committed or rolled back with the change. Every
cache of database state is a ``StateCache``: it loads through a given function and holds
while its topic's version is the one it loaded at (``Versions``: at once after a commit
in this process, within ``Versions.interval`` seconds after one on another node or in
another process, sooner with ``Listener`` on PostgreSQL)."""

from vigil.configstate.cache import StateCache
from vigil.configstate.signal import (
    INHIBITIONS,
    INTEGRATIONS,
    POLICIES,
    RULES,
    SILENCES,
    TOPICS,
    WINDOWS,
    Versions,
    changed,
    versions_of,
)

__all__ = ["INHIBITIONS", "INTEGRATIONS", "POLICIES", "RULES", "SILENCES", "TOPICS",
           "WINDOWS", "StateCache", "Versions", "changed", "versions_of"]
