"""YAML kinds: registered by a later change."""

from __future__ import annotations
