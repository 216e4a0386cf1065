"""The one value every source becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Severity(IntEnum):
    LOW = 1
    INFO = 2
    WARNING = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        return self.name.lower()


#: Stored level (1..5) -> its name, for the hot paths that turn rows into payloads.
SEVERITY_LABELS: dict[int, str] = {int(s): s.label for s in Severity}

_VOCABULARY: dict[str, Severity] = {}
for _sev, _words in {
    Severity.CRITICAL: "critical crit fatal emergency emerg disaster alert page paging sev1 "
    "sev-1 p1 "
    "s1 urgent blocker",
    Severity.HIGH: "high error err major sev2 sev-2 p2 s2 severe",
    Severity.WARNING: "warning warn average medium moderate minor sev3 sev-3 p3 s3 unknown",
    Severity.INFO: "info information informational notice note sev4 sev-4 p4 s4 ok none normal",
    Severity.LOW: "low debug trivial sev5 sev-5 p5 s5 lowest",
}.items():
    for _word in _words.split():
        _VOCABULARY[_word] = _sev


def parse_severity(value: object, default: Severity = Severity.WARNING) -> Severity:
    """Map any source's severity word (or PagerDuty/Opsgenie level) onto Vigil's five."""
    if value is None:
        return default
    word = str(value).strip().lower()
    if not word:
        return default
    return _VOCABULARY.get(word, default)


@dataclass(slots=True)
class AlertEvent:
    """A normalized event from any source. ``dedup_key`` is the source's own identity
    for the alert where it has one; ``labels`` identify it otherwise."""

    action: Action
    source: str
    name: str
    summary: str = ""
    severity: Severity = Severity.WARNING
    dedup_key: str | None = None
    description: str | None = None
    service: str | None = None
    environment: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
