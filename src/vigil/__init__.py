"""Vigil: open incident management, on-call and alerting."""

__version__ = "0.1.0"
