"""What a running node holds: its settings, database, clock, metrics and pipeline.

The routers of every domain take it (``get_context``); the app builds it. The runner, the
integration directory and the liveness report sit above the domains, so they are named
here for the type checker only: at run time the context imports no domain."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from vigil.clock import Clock
from vigil.config import Settings
from vigil.db import Database
from vigil.metrics import Metrics

if TYPE_CHECKING:
    from vigil.integrations.service import IntegrationDirectory
    from vigil.pipeline.runner import PipelineRunner
    from vigil.worker.liveness import Liveness


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    metrics: Metrics
    runner: PipelineRunner
    integrations: IntegrationDirectory
    #: This node's background loops and its latest health report.
    liveness: Liveness
    started: float = field(default_factory=time.monotonic)
    started_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.started_at is None:
            self.started_at = self.clock.now()


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx
