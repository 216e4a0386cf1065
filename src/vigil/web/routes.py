"""Every page router of the web UI, in one place for the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.web.pages import alerts, audit, config, dashboard, incidents, oncall, silences

router = APIRouter(include_in_schema=False)
for pages in (incidents, dashboard, alerts, oncall, config, silences, audit):
    router.include_router(pages.router)
