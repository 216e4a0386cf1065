"""Escalation policies and the engine that runs each incident's escalation."""
