"""The on-call routers' request bodies: moved to :mod:`vigil.http_bodies`, which every JSON
router shares; kept so the old import keeps working."""

from __future__ import annotations

from vigil.http_bodies import JsonObjectRoute, check_body

__all__ = ["JsonObjectRoute", "check_body"]
