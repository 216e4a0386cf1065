"""Assignment rules and severity escalation rules for incidents. Pure: data and ``now`` in,
decisions out.

- Assignment: the first rule (by position) whose filters all hold (category, severity,
  service; an empty filter holds for all) gives a new incident its team, assignee and
  escalation policy, where the correlation rule did not already set them.
- Severity escalation: an open incident still firing at ``from`` severity moves to ``to``
  once it has been firing for ``after_minutes`` since it started, or has seen
  ``after_occurrences`` alert occurrences, whichever comes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.core.severity import Severity

SeverityName = Literal["low", "info", "warning", "high", "critical"]
OpenStatus = Literal["firing", "acknowledged", "investigating"]


def level(name: str) -> int:
    return int(Severity[name.upper()])


class AssignmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=1_000_000)
    categories: list[str] = Field(default_factory=list, max_length=50)
    severities: list[SeverityName] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    assignee: str | None = Field(default=None, max_length=200)
    escalation_policy: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _does_something(self) -> AssignmentSpec:
        if not (self.team or self.assignee or self.escalation_policy):
            raise ValueError("give team, assignee or escalation_policy")
        return self


class SeveritySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    from_severity: SeverityName
    to_severity: SeverityName
    after_minutes: float | None = Field(default=None, gt=0, le=60 * 24 * 30)
    after_occurrences: int | None = Field(default=None, ge=2, le=10_000_000)
    statuses: list[OpenStatus] = Field(default_factory=lambda: list[OpenStatus](["firing"]))

    @model_validator(mode="after")
    def _sensible(self) -> SeveritySpec:
        if level(self.to_severity) <= level(self.from_severity):
            raise ValueError("to_severity must be above from_severity")
        if self.after_minutes is None and self.after_occurrences is None:
            raise ValueError("give after_minutes, after_occurrences or both")
        return self


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    id: int
    tenant_id: int
    spec: AssignmentSpec

    def holds(self, category: str | None, severity: int, services: Sequence[str]) -> bool:
        s = self.spec
        return ((not s.categories or (category or "") in s.categories)
                and (not s.severities or severity in {level(x) for x in s.severities})
                and (not s.services or any(x in s.services for x in services)))


class IncidentLike(Protocol):
    tenant_id: int
    status: str
    severity: int
    category: str | None
    services: list[str]
    started_at: datetime
    occurrences: int
    open_alert_count: int


def assign(rules: Iterable[AssignmentRule], inc: IncidentLike) -> AssignmentRule | None:
    """The first rule, by position, for this incident."""
    for rule in sorted(rules, key=lambda r: (r.spec.position, r.id)):
        if rule.tenant_id == inc.tenant_id and rule.holds(inc.category, inc.severity,
                                                          inc.services):
            return rule
    return None


@dataclass(frozen=True, slots=True)
class SeverityRule:
    id: int
    tenant_id: int
    spec: SeveritySpec

    def due(self, inc: IncidentLike, now: datetime) -> bool:
        s = self.spec
        if inc.tenant_id != self.tenant_id or inc.severity != level(s.from_severity) \
                or inc.status not in s.statuses or inc.open_alert_count <= 0:
            return False
        by_time = s.after_minutes is not None and \
            now - inc.started_at >= timedelta(minutes=s.after_minutes)
        by_count = s.after_occurrences is not None and inc.occurrences >= s.after_occurrences
        return by_time or by_count

    def reason(self, inc: IncidentLike, now: datetime) -> str:
        s = self.spec
        if s.after_occurrences is not None and inc.occurrences >= s.after_occurrences:
            why = f"{inc.occurrences} occurrences"
        else:
            minutes = int((now - inc.started_at).total_seconds() // 60)
            why = f"firing for {minutes} minutes"
        return f"{s.from_severity} -> {s.to_severity}: {why} (rule {s.name})"


def escalations(rules: Sequence[SeverityRule], incidents: Iterable[IncidentLike],
                now: datetime) -> list[tuple[IncidentLike, SeverityRule]]:
    """Each incident due for a severity step, with the rule that moves it (one step per
    call: a chain warning -> high -> critical takes two calls, each recorded)."""
    out = []
    for inc in incidents:
        for rule in rules:
            if rule.due(inc, now):
                out.append((inc, rule))
                break
    return out


def from_severities(rules: Iterable[SeverityRule]) -> dict[int, set[int]]:
    """Per tenant, the severities some rule may raise (what the job needs to load)."""
    out: dict[int, set[int]] = {}
    for r in rules:
        out.setdefault(r.tenant_id, set()).add(level(r.spec.from_severity))
    return out


SPECS: Mapping[str, type[BaseModel]] = {"assignment": AssignmentSpec, "severity": SeveritySpec}


def parse(kind: str, data: Mapping[str, Any]) -> BaseModel:
    return SPECS[kind].model_validate(data)
