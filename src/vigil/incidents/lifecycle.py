"""Incident status transitions, pure. firing -> acknowledged -> investigating -> resolved ->
closed; resolved may reopen; merged and deleted are terminal."""

from __future__ import annotations

from vigil.errors import Conflict

#: action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({"firing"}), "acknowledged"),
    "investigate": (frozenset({"firing", "acknowledged"}), "investigating"),
    "resolve": (frozenset({"firing", "acknowledged", "investigating"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved"}), "firing"),
}
ACTIONS = tuple(TRANSITIONS)


def next_status(current: str, action: str) -> str | None:
    """The status ``action`` leads to from ``current``; None when the incident is already
    there (so a repeated or concurrent acknowledge is a no-op, not an error). An action the
    current status forbids is a Conflict naming that status."""
    sources, target = TRANSITIONS[action]
    if current == target and action != "reopen":
        return None
    if current not in sources:
        raise Conflict(f"cannot {action} an incident that is {current}", field="status")
    return target
