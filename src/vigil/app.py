"""The app factory: routers, lifespan (pipeline, background jobs), errors -> HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil import __version__, audit_targets
from vigil.alerts.api import router as alerts_router
from vigil.audit.service import purge as purge_audit
from vigil.auth import secrets_at_rest
from vigil.auth.api import router as api_keys_router
from vigil.clock import Clock, FileOffsetClock, SystemClock
from vigil.config import Settings
from vigil.configstate import listener as configstate_listener
from vigil.context import Context
from vigil.correlation.api import router as correlation_router
from vigil.db import Database
from vigil.errors import MalformedBody, PayloadTooLarge, RetryLater, VigilError
from vigil.http.openapi import install as declare_answers
from vigil.incidents.api import router as incidents_router
from vigil.incidents.policy_api import router as policy_router
from vigil.integrations.api import router as integrations_router
from vigil.integrations.base import loc_to_field
from vigil.integrations.ingest import router as ingest_router
from vigil.integrations.service import IntegrationDirectory
from vigil.metrics import Metrics
from vigil.muting.rules_api import router as quiet_router
from vigil.muting.silences_api import router as silences_router
from vigil.notify import stored_secrets
from vigil.notify.api import router as notify_router
from vigil.oncall.escalation.api import router as escalation_router
from vigil.oncall.escalation.replies import router as replies_router
from vigil.oncall.people.api import router as people_router
from vigil.oncall.schedules.api import router as schedules_router
from vigil.outbox.api import router as outbox_router
from vigil.pipeline.runner import PipelineRunner
from vigil.system.api import router as system_router
from vigil.system.audit_api import router as audit_router
from vigil.system.health import monitor_loop
from vigil.web.events import router as web_events_router
from vigil.web.pages.sign_in import router as web_auth_router
from vigil.web.pages.sign_in_oidc import router as web_oidc_router
from vigil.web.render import SignIn
from vigil.web.routes import router as web_pages_router
from vigil.web.security import SecurityHeaders
from vigil.worker.liveness import Liveness
from vigil.worker.notifier import notifier_loop
from vigil.worker.retention import purge_events
from vigil.worker.tick import tick_loop

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413, before or while they stream in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_json(send, PayloadTooLarge(self._message(), field="body"))
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(self._message(), field="body")
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"the body is larger than the limit of {self.limit} bytes (VIGIL_MAX_BODY_BYTES)"


async def _send_json(send: Send, exc: VigilError) -> None:
    import orjson

    body = orjson.dumps(exc.to_dict())
    await send({"type": "http.response.start", "status": exc.status_code,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _error_response(exc: VigilError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RetryLater):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)


#: The error codes of the framework's own answers (``framework_error``).
_FRAMEWORK_CODES = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}


async def _retention_loop(ctx: Context) -> None:
    while True:
        try:
            removed = await ctx.runner.run_exclusive(
                lambda: purge_events(ctx.db, now=ctx.clock.now(),
                                     retention_days=ctx.settings.event_retention_days)
            )
            if removed:
                log.info("retention: removed %d raw events", removed)
            removed = await ctx.runner.run_exclusive(lambda: purge_audit(
                ctx.db, now=ctx.clock.now(), retention_days=ctx.settings.audit_retention_days))
            if removed:
                log.info("retention: removed %d audit entries", removed)
        except Exception:
            log.exception("retention job failed")
        await asyncio.sleep(ctx.settings.retention_interval_seconds)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               run_background_jobs: bool = True) -> FastAPI:
    settings = settings or Settings()
    secrets_at_rest.configure(settings)  # a malformed VIGIL_SECRET_KEY stops here
    if clock is None:
        clock = (FileOffsetClock(settings.test_clock_file) if settings.test_clock_file
                 else SystemClock())
    audit_targets.install()  # configuration changes are logged with the sessions' commits
    db = Database(settings.url, sqlite_synchronous=settings.sqlite_synchronous)
    metrics = Metrics()
    runner = PipelineRunner(db, clock, metrics, max_pending=settings.queue_max_alerts,
                            max_batch=settings.batch_max_alerts,
                            alert_events=settings.outbox_alert_events)
    runner.muting.flap_threshold = settings.flap_threshold
    runner.muting.flap_window = timedelta(minutes=settings.flap_window_minutes)
    ctx = Context(settings=settings, db=db, clock=clock, metrics=metrics, runner=runner,
                  integrations=IntegrationDirectory(db), liveness=Liveness())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded at start-up lives forever: keep it out of the cyclic collector's
        # full passes, whose pauses would otherwise show in the tail latency of ingest.
        gc.collect()
        gc.freeze()
        # Ingest allocates many short-lived objects per batch; collecting the young
        # generation every 700 allocations cost ~20% of the writer's time.
        gc.set_threshold(settings.gc_gen0_threshold, 20, 20)
        # Stops the node, saying why, if its key cannot decrypt the stored secrets.
        await asyncio.to_thread(stored_secrets.start, db, settings)
        checkpointer = db.checkpointer(wal_limit=settings.sqlite_wal_limit_mb * 1024 * 1024)
        if checkpointer is not None:
            checkpointer.start()
        await runner.start()
        # Other nodes' configuration changes, pushed (PostgreSQL; stops with db.dispose()).
        await asyncio.to_thread(configstate_listener.listen, db)
        jobs = [asyncio.create_task(_retention_loop(ctx)),
                asyncio.create_task(tick_loop(ctx)),
                asyncio.create_task(notifier_loop(ctx)),
                asyncio.create_task(monitor_loop(ctx))] if run_background_jobs else []
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            await runner.stop()
            if checkpointer is not None:
                await asyncio.to_thread(checkpointer.stop)
            db.dispose()

    app = FastAPI(
        title="Vigil",
        version=__version__,
        description="Open incident management, on-call and alerting.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx

    @app.exception_handler(VigilError)
    async def vigil_error(_: Request, exc: VigilError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(HTTPException)
    async def framework_error(request: Request, exc: HTTPException) -> Response:
        """The framework's own answers (a body that does not parse, no such route or
        method) in the shape of every other error, not as ``{"detail": ...}``."""
        if exc.status_code < 400:
            return await http_exception_handler(request, exc)
        err = VigilError(str(exc.detail), field="body" if exc.status_code == 400 else None)
        err.status_code = exc.status_code
        err.code = _FRAMEWORK_CODES.get(exc.status_code, "bad_request")
        response = _error_response(err)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        for e in exc.errors():
            if e["type"] == "json_invalid":  # not a field's fault: the body does not parse
                reason = (e.get("ctx") or {}).get("error", e["msg"])
                return _error_response(MalformedBody(
                    f"malformed JSON: {reason} (at character {e['loc'][-1]})", field="body"))
        details: list[dict[str, Any]] = [
            {"field": loc_to_field(tuple(e["loc"][1:]) or tuple(e["loc"])), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = details[0] if details else {"field": "body", "message": "invalid"}
        err = VigilError(f"{first['field']}: {first['message']}", field=first["field"],
                         details=details)
        err.status_code = 422
        err.code = "invalid_input"
        return _error_response(err)

    for router in (ingest_router, alerts_router, incidents_router, integrations_router,
                   silences_router, quiet_router, correlation_router, policy_router,
                   people_router, schedules_router, escalation_router, notify_router,
                   replies_router, web_auth_router, web_events_router, web_pages_router,
                   api_keys_router, outbox_router, system_router, web_oidc_router):
        app.include_router(router)
    app.include_router(audit_router)
    declare_answers(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"),
              name="static")

    @app.exception_handler(SignIn)
    async def _sign_in(request: Request, exc: SignIn) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # Outermost (added last), so the body limit's 413 gets the headers too.
    app.add_middleware(SecurityHeaders, no_csp=(app.docs_url, app.redoc_url,
                                                app.swagger_ui_oauth2_redirect_url))
    return app
