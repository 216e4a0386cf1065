"""The states an incident and an alert can be in."""

from __future__ import annotations

#: An incident in one of these still wants a human.
OPEN_STATUSES = ("firing", "acknowledged", "investigating")
#: Every incident status, open first.
STATUSES = (*OPEN_STATUSES, "resolved", "closed", "merged", "deleted")
#: Every alert status.
ALERT_STATUSES = ("firing", "acknowledged", "resolved", "suppressed")
