"""Vigil's five severities, and the words every source uses for them."""

from __future__ import annotations

from enum import IntEnum


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


#: The five names, highest first (as forms and channel payloads list them).
SEVERITY_NAMES: tuple[str, ...] = tuple(s.label for s in sorted(Severity, reverse=True))
