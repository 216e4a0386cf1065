"""On call: who is reached, when, and how.

- ``people``: users' contact methods and notification rules, teams and services (API,
  YAML kinds, service over the database).
- ``schedules``: on-call schedules. ``definition``, ``shifts``, ``overrides`` and
  ``parse`` are pure (no database, no clock: every instant is passed in); ``service``,
  ``api``, ``ical``, ``handoffs`` and ``kinds`` are their edges.
- ``escalation``: escalation policies. ``policy``, ``state`` and ``parse`` are pure;
  ``engine`` is the outbox consumer that starts, stops and fires escalations; ``view``,
  ``service``, ``api`` and ``kinds`` are the edges people use.
- ``models``: the rows of all three.
"""
