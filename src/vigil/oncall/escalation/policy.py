"""Escalation policies: who is notified, in what order, until someone acknowledges.

A pure core: no database, no I/O, no clock. Every function takes the policy, the durable
``EscalationState`` and the instant, and returns a new state (plus notification intents from
``due``). Instants must be timezone-aware; every instant stored or returned is UTC.

Semantics:

- Step 0 is due ``steps[0].delay`` after the trigger; step k is due ``steps[k].delay`` after
  step k-1's due time (not after the wall-clock moment ``due`` ran, so catching up after
  downtime reproduces the same due times). After the last step the list starts over at step
  0 (whose delay counts from the last step) ``repeat`` more times, then the state is
  ``exhausted``.
- ``due(now)`` fires every step whose due time is ``<= now``, in order, each at most once:
  the cursor (step, repeat) only moves forward, so calling ``due`` again with the same or an
  earlier ``now`` returns no intents.
- ``active_between``: a step whose due time falls outside its window is *skipped*, not
  delayed (it is recorded in ``fired`` with ``skipped=True``); the next step's delay counts
  from the skipped step's due time. Waiting for the window to open would hold the incident
  back for hours, so an off-hours tier is simply left out.
- Schedules are resolved at the step's *due time* and teams when the step fires; a person
  reached through several targets of one step is notified once (first target wins).
  Channels (slack_channel, webhook) are notified but cannot acknowledge.
- Acknowledging stops escalation; with ``multi_ack`` on the current (last fired) step,
  only once every person that step targeted has acknowledged. With ``ack_timeout``, an
  acknowledgement not followed by resolution re-triggers from step 0 at
  ``ack_at + ack_timeout`` as a new *epoch* (acks cleared, repeats counted afresh; acking
  again resets the timer). Reassignment also starts a new epoch. ``Notify.key`` includes
  the epoch so a re-fired step is not swallowed downstream.
- If a resolver callback raises, the exception propagates and no state was changed: store
  nothing and retry later; the same intents (same keys) will be computed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vigil.errors import Conflict, InvalidInput
from vigil.oncall.escalation.state import EscalationState, Fired, Notify, Status
from vigil.oncall.schedules.definition import ALL_DAYS, as_utc

__all__ = [
    "ActiveWindow", "Conditions", "EscalationState", "Fired", "Notify", "Policy", "Resolver",
    "Severity", "State", "Status", "Step", "Target", "TargetKind", "Urgency", "acknowledge",
    "due", "escalate_now", "next_due", "reassign", "resolve", "select_policy", "start",
]

State = EscalationState
MAX_REPEAT = 5
MAX_STEPS = 20
MAX_TARGETS = 20
MAX_DELAY = timedelta(days=7)


class Severity(StrEnum):
    LOW = "low"
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


class TargetKind(StrEnum):
    USER = "user"
    SCHEDULE = "schedule"
    TEAM = "team"
    ROUND_ROBIN = "round_robin"
    SLACK_CHANNEL = "slack_channel"
    WEBHOOK = "webhook"


PERSON_KINDS = frozenset({TargetKind.USER, TargetKind.SCHEDULE, TargetKind.TEAM,
                          TargetKind.ROUND_ROBIN})


def _text(value: object, name: str, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be {what}", field=name)
    return value.strip()


def _duration(value: object, name: str, *, allow_zero: bool) -> timedelta:
    if not isinstance(value, timedelta):
        raise InvalidInput(f"{name} must be a duration", field=name)
    if value < timedelta(0) or (value == timedelta(0) and not allow_zero) or value > MAX_DELAY:
        low = "zero or more" if allow_zero else "positive"
        raise InvalidInput(f"{name} must be {low} and at most {MAX_DELAY}, got {value}",
                           field=name)
    return value


@dataclass(frozen=True, slots=True)
class Target:
    """``id`` names the user, schedule, team, Slack channel or webhook. A round robin has
    ``users`` (taken in turn, one per firing) and an optional ``id`` (its name)."""

    kind: TargetKind
    id: str = ""
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, TargetKind):
            raise InvalidInput(f"unknown target type {self.kind!r}", field="type")
        object.__setattr__(self, "users", tuple(self.users))
        if self.kind is TargetKind.ROUND_ROBIN:
            if not self.users:
                raise InvalidInput("a round robin needs at least one user", field="users")
            users = tuple(_text(u, f"users[{i}]", "a user id") for i, u in enumerate(self.users))
            object.__setattr__(self, "users", users)
            if not isinstance(self.id, str):
                raise InvalidInput("id must be a string", field="id")
        else:
            object.__setattr__(self, "id", _text(self.id, "id"))
            if self.users:
                raise InvalidInput(f"users is only valid on a round_robin target, not "
                                   f"{self.kind.value}", field="users")

    @property
    def is_person(self) -> bool:
        """People can acknowledge; channels (Slack, webhooks) cannot."""
        return self.kind in PERSON_KINDS

    @property
    def key(self) -> str:
        return self.id or ",".join(self.users)


@dataclass(frozen=True, slots=True)
class ActiveWindow:
    """Local wall-clock hours in ``tz`` on ``days`` (0 = Monday) when a step may fire.
    ``end <= start`` spans midnight (the day is the one the window starts on); ``end ==
    start`` is the whole day. DST needs no special case: the instant is converted to local
    time and compared, so 09:00-18:00 Europe/Berlin is 08:00-17:00 UTC in winter and
    07:00-16:00 UTC in summer."""

    start: time
    end: time
    tz: str
    days: tuple[int, ...] = ALL_DAYS

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidInput(f"{name} must be a local time of day", field=name)
        try:
            ZoneInfo(_text(self.tz, "tz", "an IANA time zone name"))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone {self.tz!r}", field="tz") from None
        days = tuple(self.days)
        if not days or any(isinstance(d, bool) or d not in ALL_DAYS for d in days):
            raise InvalidInput("days must be weekdays 0 (Monday) to 6", field="days")
        object.__setattr__(self, "days", tuple(sorted(set(days))))

    def contains(self, at: datetime) -> bool:
        local = as_utc(at, "at").astimezone(ZoneInfo(self.tz))
        clock, day = local.time().replace(tzinfo=None), local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        return ((day in self.days and clock >= self.start)
                or ((day - 1) % 7 in self.days and clock < self.end))


@dataclass(frozen=True, slots=True)
class Step:
    delay: timedelta
    targets: tuple[Target, ...]
    urgency: Urgency = Urgency.HIGH
    active_between: ActiveWindow | None = None
    multi_ack: bool = False

    def __post_init__(self) -> None:
        _duration(self.delay, "delay", allow_zero=True)
        object.__setattr__(self, "targets", tuple(self.targets))
        if not self.targets:
            raise InvalidInput("a step needs at least one target", field="targets")
        if len(self.targets) > MAX_TARGETS:
            raise InvalidInput(f"at most {MAX_TARGETS} targets per step", field="targets")
        for i, target in enumerate(self.targets):
            if not isinstance(target, Target):
                raise InvalidInput("expected a Target", field=f"targets[{i}]")
        if not isinstance(self.urgency, Urgency):
            raise InvalidInput(f"urgency must be high or low, got {self.urgency!r}",
                               field="urgency")
        if self.active_between is not None and not isinstance(self.active_between,
                                                               ActiveWindow):
            raise InvalidInput("expected an ActiveWindow", field="active_between")
        if not isinstance(self.multi_ack, bool):
            raise InvalidInput("multi_ack must be true or false", field="multi_ack")


@dataclass(frozen=True, slots=True)
class Conditions:
    """A plain filter: the policy applies when the severity is one of ``severities`` and the
    status one of ``statuses``; an empty set matches anything."""

    severities: frozenset[Severity] = frozenset()
    statuses: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "severities", frozenset(self.severities))
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        for sev in self.severities:
            if not isinstance(sev, Severity):
                raise InvalidInput(f"unknown severity {sev!r}", field="severities")
        for status in self.statuses:
            _text(status, "statuses")

    def matches(self, severity: str, status: str) -> bool:
        return ((not self.severities or severity in self.severities)
                and (not self.statuses or status in self.statuses))


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int = 0
    ack_timeout: timedelta | None = None
    conditions: Conditions | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _text(self.name, "name"))
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise InvalidInput("a policy needs at least one step", field="steps")
        if len(self.steps) > MAX_STEPS:
            raise InvalidInput(f"at most {MAX_STEPS} steps", field="steps")
        for i, step in enumerate(self.steps):
            if not isinstance(step, Step):
                raise InvalidInput("expected a Step", field=f"steps[{i}]")
        if (isinstance(self.repeat, bool) or not isinstance(self.repeat, int)
                or not 0 <= self.repeat <= MAX_REPEAT):
            raise InvalidInput(f"repeat must be a whole number from 0 to {MAX_REPEAT}, got "
                               f"{self.repeat!r}", field="repeat")
        if self.ack_timeout is not None:
            _duration(self.ack_timeout, "ack_timeout", allow_zero=False)

    def applies(self, severity: str, status: str) -> bool:
        return self.conditions is None or self.conditions.matches(severity, status)


@dataclass(frozen=True, slots=True)
class Resolver:
    """How targets become people: ``on_call(schedule_id, at)`` and ``team_members(team_id)``
    return user ids. Unknown ids should return an empty list (nobody is notified)."""

    on_call: Callable[[str, datetime], Sequence[str]]
    team_members: Callable[[str], Sequence[str]]


def select_policy(policies: Iterable[Policy], severity: str, status: str) -> Policy | None:
    """The first policy whose conditions match, or None."""
    return next((p for p in policies if p.applies(severity, status)), None)


def _check(policy: Policy, state: EscalationState) -> None:
    if not isinstance(policy, Policy) or not isinstance(state, EscalationState):
        raise InvalidInput("expected a Policy and an EscalationState", field=None)
    if state.policy_name != policy.name:
        raise InvalidInput(f"state belongs to policy {state.policy_name!r}, not "
                           f"{policy.name!r}; reassign to switch", field="policy")
    if state.step_index > len(policy.steps):
        raise InvalidInput(f"state step {state.step_index} does not exist in policy "
                           f"{policy.name!r}; reassign after removing steps", field="step")


def _restart(policy: Policy, state: EscalationState, at: datetime,
             epoch: int) -> EscalationState:
    return replace(state, policy_name=policy.name, status=Status.ACTIVE, triggered_at=at,
                   epoch=epoch, step_index=0, repeat=0, next_due_at=at + policy.steps[0].delay,
                   acked_by=frozenset(), ack_at=None, resolved_at=None)


def start(policy: Policy, incident_started_at: datetime) -> EscalationState:
    """A fresh escalation for an incident triggered at ``incident_started_at``."""
    at = as_utc(incident_started_at, "incident_started_at")
    if not isinstance(policy, Policy):
        raise InvalidInput("expected a Policy", field="policy")
    return EscalationState(policy_name=policy.name, status=Status.ACTIVE, triggered_at=at,
                           next_due_at=at + policy.steps[0].delay)


def _targets(index: int, step: Step, at: datetime, resolver: Resolver, rr: dict[str, int],
             out: list[Notify], epoch: int, repeat: int) -> tuple[str, ...]:
    """Append the intents of one firing to ``out``; return the persons targeted."""
    persons: list[str] = []
    for t, target in enumerate(step.targets):
        if not target.is_person:
            out.append(Notify(epoch, index, repeat, target.kind.value, target.key, None,
                              step.urgency.value, at))
            continue
        if target.kind is TargetKind.USER:
            users: Sequence[str] = (target.id,)
        elif target.kind is TargetKind.SCHEDULE:
            users = resolver.on_call(target.id, at)
        elif target.kind is TargetKind.TEAM:
            users = resolver.team_members(target.id)
        else:
            slot = f"{index}.{t}"
            turn = rr.get(slot, 0) % len(target.users)
            users, rr[slot] = (target.users[turn],), (turn + 1) % len(target.users)
        for user in users:
            if isinstance(user, str) and user and user not in persons:
                persons.append(user)
                out.append(Notify(epoch, index, repeat, target.kind.value, target.key, user,
                                  step.urgency.value, at))
    return tuple(persons)


def due(policy: Policy, state: EscalationState, now: datetime,
        resolver: Resolver) -> tuple[EscalationState, list[Notify]]:
    """Fire every step due at or before ``now``, in order; return the new state and the
    notification intents (each carrying its own step's ``due_at``)."""
    now = as_utc(now, "now")
    _check(policy, state)
    if (state.status is Status.ACKNOWLEDGED and state.next_due_at is not None
            and state.next_due_at <= now):
        state = _restart(policy, state, state.next_due_at, state.epoch + 1)
    if state.status is not Status.ACTIVE or state.next_due_at is None:
        return state, []
    out: list[Notify] = []
    fired = list(state.fired)
    rr = dict(state.round_robin)
    index, repeat, at = state.step_index, state.repeat, state.next_due_at
    status: Status = Status.ACTIVE
    next_at: datetime | None = at
    while next_at is not None and next_at <= now:
        at, step = next_at, policy.steps[index]
        skipped = step.active_between is not None and not step.active_between.contains(at)
        persons = () if skipped else _targets(index, step, at, resolver, rr, out,
                                              state.epoch, repeat)
        fired.append(Fired(state.epoch, index, repeat, at, now, skipped, persons))
        index += 1
        if index == len(policy.steps):
            if repeat < policy.repeat:
                index, repeat = 0, repeat + 1
            else:
                status, next_at = Status.EXHAUSTED, None
                break
        next_at = at + policy.steps[index].delay
    new = replace(state, status=status, step_index=index, repeat=repeat, next_due_at=next_at,
                  round_robin=rr, fired=tuple(fired))
    return new, out


def _current_persons(state: EscalationState) -> tuple[int, tuple[str, ...]] | None:
    """The step index and persons of the last step fired (not skipped) in this epoch."""
    for entry in reversed(state.fired):
        if entry.epoch != state.epoch:
            return None
        if not entry.skipped:
            return entry.step_index, entry.persons
    return None


def acknowledge(policy: Policy, state: EscalationState, user: str,
                now: datetime) -> EscalationState:
    """Record ``user``'s acknowledgement. Escalation stops unless the current step is
    ``multi_ack`` and some person it targeted has not acknowledged yet. Acknowledging an
    acknowledged incident resets the ack-timeout timer. Raises ``Conflict`` once resolved."""
    now = as_utc(now, "now")
    user = _text(user, "user", "a non-empty user id")
    _check(policy, state)
    if state.status is Status.RESOLVED:
        raise Conflict("the incident is resolved; it cannot be acknowledged", field="status")
    acked = state.acked_by | {user}
    if state.status is Status.ACTIVE:
        current = _current_persons(state)
        if (current is not None and current[0] < len(policy.steps)
                and policy.steps[current[0]].multi_ack
                and not set(current[1]) <= acked):
            return replace(state, acked_by=acked)
    retrigger = None if policy.ack_timeout is None else now + policy.ack_timeout
    return replace(state, status=Status.ACKNOWLEDGED, acked_by=acked, ack_at=now,
                   next_due_at=retrigger)


def resolve(state: EscalationState, now: datetime) -> EscalationState:
    """Stop everything. Resolving a resolved incident returns it unchanged."""
    now = as_utc(now, "now")
    if state.status is Status.RESOLVED:
        return state
    return replace(state, status=Status.RESOLVED, next_due_at=None, resolved_at=now)


def escalate_now(policy: Policy, state: EscalationState, now: datetime) -> EscalationState:
    """Make the next step (the one after the last fired) due at ``now``; call ``due`` to
    fire it. An acknowledged incident becomes active again. Steps after it keep their
    delays, counted from ``now``. Raises ``Conflict`` when resolved or no step is left."""
    now = as_utc(now, "now")
    _check(policy, state)
    if state.status is Status.RESOLVED:
        raise Conflict("the incident is resolved; it cannot be escalated", field="status")
    if state.status is Status.EXHAUSTED or state.step_index >= len(policy.steps):
        raise Conflict("no escalation step is left; reassign to start over", field="status")
    at = now if state.next_due_at is None or state.status is not Status.ACTIVE \
        else min(now, state.next_due_at)
    return replace(state, status=Status.ACTIVE, ack_at=None, next_due_at=at)


def reassign(policy: Policy, state: EscalationState, now: datetime, *,
             to: Policy | None = None) -> EscalationState:
    """Start over from step 0 of ``to`` (default: the same ``policy``) as if triggered at
    ``now``: a new epoch, acknowledgements cleared, history kept. Round-robin positions are
    kept for the same policy and reset for another. Raises ``Conflict`` once resolved."""
    now = as_utc(now, "now")
    _check(policy, state)
    target = policy if to is None else to
    if not isinstance(target, Policy):
        raise InvalidInput("expected a Policy", field="to")
    if state.status is Status.RESOLVED:
        raise Conflict("the incident is resolved; it cannot be reassigned", field="status")
    new = _restart(target, state, now, state.epoch + 1)
    if target.name != policy.name:
        new = replace(new, round_robin={})
    return new


def next_due(state: EscalationState) -> datetime | None:
    """When a scheduler should call ``due`` next (the "escalate at" column), or None."""
    if state.status in (Status.ACTIVE, Status.ACKNOWLEDGED):
        return state.next_due_at
    return None
