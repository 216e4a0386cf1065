"""The durable state of one incident's escalation, and the notification intents it emits.

``EscalationState`` lives in a database row: ``to_dict`` gives a JSON-able dict (instants as
ISO 8601 UTC strings, sets as sorted lists) and ``from_dict`` reads it back, raising
``InvalidInput`` naming the field when the stored value is damaged. The functions that move
the state live in ``vigil.oncall.escalation.policy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from vigil.errors import InvalidInput
from vigil.oncall.schedules.definition import as_utc

STATE_VERSION = 1
HISTORY_LIMIT = 500  # oldest ``Fired`` entries are dropped beyond this; nothing relies on them


class Status(StrEnum):
    ACTIVE = "active"              # steps fire when due
    ACKNOWLEDGED = "acknowledged"  # stopped; ``next_due_at`` is the ack-timeout re-trigger
    RESOLVED = "resolved"          # stopped for good
    EXHAUSTED = "exhausted"        # every step of every repeat has fired; nobody acked


@dataclass(frozen=True, slots=True)
class Notify:
    """Notify ``user_id`` (a person) or the channel ``target_id`` (``user_id`` is None).

    ``key(incident)`` is the idempotency key downstream: the same intent computed twice
    (a retried ``due`` call) has the same key. ``epoch`` counts restarts (ack-timeout
    re-triggers and reassignments), so a step fired again after a restart is a new key.
    How a person is reached (email, SMS, push) is theirs to choose per ``urgency``.
    """

    epoch: int
    step_index: int
    repeat: int
    target_kind: str
    target_id: str
    user_id: str | None
    urgency: str
    due_at: datetime

    def key(self, incident_id: str) -> str:
        return (f"{incident_id}:{self.epoch}:{self.step_index}:{self.repeat}:"
                f"{self.target_kind}:{self.target_id}:{self.user_id or '-'}")


@dataclass(frozen=True, slots=True)
class Fired:
    """One step's turn: fired (``skipped`` False) or passed over outside its window.
    ``persons`` are the people it targeted (after de-duplication), in order."""

    epoch: int
    step_index: int
    repeat: int
    due_at: datetime
    fired_at: datetime
    skipped: bool = False
    persons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step_index, "repeat": self.repeat,
                "due_at": self.due_at.isoformat(), "fired_at": self.fired_at.isoformat(),
                "skipped": self.skipped, "persons": list(self.persons)}


@dataclass(frozen=True, slots=True)
class EscalationState:
    """Where one incident's escalation stands.

    ``step_index``/``repeat`` is the cursor: the *next* step to fire and the pass it belongs
    to (``repeat`` = whole repeats already done). ``step_index == len(policy.steps)`` means
    no step is left (exhausted, or acknowledged after exhaustion). ``next_due_at`` is when
    ``due`` has work: the cursor's step when active, the ack-timeout re-trigger when
    acknowledged, None otherwise. ``round_robin`` maps ``"<step>.<target>"`` to the index of
    the next person; treat it as read-only.
    """

    policy_name: str
    status: Status
    triggered_at: datetime
    epoch: int = 0
    step_index: int = 0
    repeat: int = 0
    next_due_at: datetime | None = None
    acked_by: frozenset[str] = frozenset()
    ack_at: datetime | None = None
    resolved_at: datetime | None = None
    round_robin: Mapping[str, int] = field(default_factory=dict)
    fired: tuple[Fired, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "triggered_at", as_utc(self.triggered_at, "triggered_at"))
        for name in ("next_due_at", "ack_at", "resolved_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, name))
        object.__setattr__(self, "acked_by", frozenset(self.acked_by))
        object.__setattr__(self, "round_robin", dict(self.round_robin))
        object.__setattr__(self, "fired", tuple(self.fired)[-HISTORY_LIMIT:])

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "version": STATE_VERSION,
            "policy": self.policy_name,
            "status": self.status.value,
            "triggered_at": self.triggered_at.isoformat(),
            "epoch": self.epoch,
            "step": self.step_index,
            "repeat": self.repeat,
            "next_due_at": iso(self.next_due_at),
            "acked_by": sorted(self.acked_by),
            "ack_at": iso(self.ack_at),
            "resolved_at": iso(self.resolved_at),
            "round_robin": dict(sorted(self.round_robin.items())),
            "fired": [entry.to_dict() for entry in self.fired],
        }

    @classmethod
    def from_dict(cls, data: Any) -> EscalationState:
        if not isinstance(data, Mapping):
            raise InvalidInput("escalation state must be an object", field=None)
        if data.get("version") != STATE_VERSION:
            raise InvalidInput(f"unsupported escalation state version {data.get('version')!r}",
                               field="version")
        status = data.get("status")
        if status not in {s.value for s in Status}:
            raise InvalidInput(f"unknown status {status!r}", field="status")
        name = data.get("policy")
        if not isinstance(name, str) or not name:
            raise InvalidInput("policy must be a non-empty string", field="policy")
        raw_rr = data.get("round_robin", {})
        if not isinstance(raw_rr, Mapping):
            raise InvalidInput("round_robin must be an object", field="round_robin")
        raw_fired = data.get("fired", [])
        if not isinstance(raw_fired, list):
            raise InvalidInput("fired must be a list", field="fired")
        acked = data.get("acked_by", [])
        if not isinstance(acked, list) or not all(isinstance(u, str) for u in acked):
            raise InvalidInput("acked_by must be a list of user ids", field="acked_by")
        return cls(
            policy_name=name,
            status=Status(status),
            triggered_at=_instant(data.get("triggered_at"), "triggered_at"),
            epoch=_count(data.get("epoch"), "epoch"),
            step_index=_count(data.get("step"), "step"),
            repeat=_count(data.get("repeat"), "repeat"),
            next_due_at=_optional_instant(data.get("next_due_at"), "next_due_at"),
            acked_by=frozenset(acked),
            ack_at=_optional_instant(data.get("ack_at"), "ack_at"),
            resolved_at=_optional_instant(data.get("resolved_at"), "resolved_at"),
            round_robin={str(k): _count(v, f"round_robin.{k}") for k, v in raw_rr.items()},
            fired=tuple(_fired(item, f"fired[{i}]") for i, item in enumerate(raw_fired)),
        )


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"expected a non-negative whole number, got {value!r}", field=path)
    return value


def _instant(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput("expected an ISO 8601 instant", field=path)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"expected an ISO 8601 instant, got {value!r}", field=path) from None
    return as_utc(parsed, path)


def _optional_instant(value: Any, path: str) -> datetime | None:
    return None if value is None else _instant(value, path)


def _fired(data: Any, path: str) -> Fired:
    if not isinstance(data, Mapping):
        raise InvalidInput("expected an object", field=path)
    persons = data.get("persons", [])
    if not isinstance(persons, list) or not all(isinstance(p, str) for p in persons):
        raise InvalidInput("persons must be a list of user ids", field=f"{path}.persons")
    skipped = data.get("skipped", False)
    if not isinstance(skipped, bool):
        raise InvalidInput("skipped must be a boolean", field=f"{path}.skipped")
    return Fired(epoch=_count(data.get("epoch"), f"{path}.epoch"),
                 step_index=_count(data.get("step"), f"{path}.step"),
                 repeat=_count(data.get("repeat"), f"{path}.repeat"),
                 due_at=_instant(data.get("due_at"), f"{path}.due_at"),
                 fired_at=_instant(data.get("fired_at"), f"{path}.fired_at"),
                 skipped=skipped, persons=tuple(persons))
