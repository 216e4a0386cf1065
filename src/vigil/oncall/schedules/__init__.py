"""On-call schedules: definitions, shifts, overrides, swaps, iCalendar, handoff notices."""
