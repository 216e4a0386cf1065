"""Every page router of the web UI, in one place for the app factory."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.web.pages_audit import router as audit
from vigil.web.pages_incidents import router as incidents
from vigil.web.pages_ops import router as ops

router = APIRouter(include_in_schema=False)
router.include_router(incidents)
router.include_router(ops)
router.include_router(audit)
