"""The vocabulary every part of Vigil speaks: the alert event, severities, the submission
and its fingerprint, incident statuses. Pure: it imports nothing else of Vigil, no
database, no web framework."""
