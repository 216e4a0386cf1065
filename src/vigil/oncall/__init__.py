"""On-call schedules: a pure core with no database, no I/O and no clock.

- ``vigil.oncall.schedule``: the definition (rotations, layers, restrictions, overrides,
  temporary schedules) and the shift-swap state machine.
- ``vigil.oncall.shifts``: the queries (who is on call at an instant, final shifts, gaps,
  balance, next handoff). Time is always passed in.
- ``vigil.oncall.validation``: builds a ``Schedule`` from plain dicts (YAML/JSON), naming
  the offending field in ``InvalidInput``.
- ``vigil.oncall.ical``: iCalendar export of final shifts and import of fixed shifts.
"""
