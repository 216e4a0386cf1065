"""Inbound HTTP: every source's endpoint. Parse, fingerprint, hand to the pipeline, and
answer only once the batch is durable."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.alerts.dedup import Result
from vigil.alerts.service import get_alert
from vigil.context import Context, get_context
from vigil.core.event import Action, AlertEvent
from vigil.core.fingerprint import FingerprintError, fingerprint
from vigil.core.submission import Submission
from vigil.errors import InvalidInput, MalformedBody, NotFound, Unauthorized, VigilError
from vigil.integrations.opsgenie import parser as opsgenie
from vigil.integrations.pagerduty import parser as pagerduty
from vigil.integrations.registry import BODY_PARSERS
from vigil.integrations.schemas import IngestResponse
from vigil.integrations.service import IntegrationInfo

router = APIRouter(tags=["ingest"])


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        raise MalformedBody("the request body is empty; send JSON", field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}", field="body") from None


def token_from(request: Request, path_token: str | None = None) -> str | None:
    if path_token:
        return path_token
    if request.query_params.get("token"):
        return request.query_params["token"]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "geniekey") and value.strip():
        return value.strip()
    return None


async def integration_for(ctx: Context, token: str | None, kind: str) -> IntegrationInfo:
    if not token:
        raise Unauthorized(
            "an integration key is required: in the URL path, ?token=, or Authorization: Bearer",
            field="token",
        )
    now = ctx.clock.now()
    known, info = ctx.integrations.cached(token, now)
    if not known:
        info = await run_in_threadpool(ctx.integrations.lookup, token, now)
    if info is None:
        raise Unauthorized("unknown or revoked integration key", field="token")
    if info.type != kind:
        raise InvalidInput(
            f"this key belongs to a {info.type} integration, not {kind}", field="token"
        )
    return info


async def submit(ctx: Context, integ: IntegrationInfo, events: list[AlertEvent]) -> list[Result]:
    subs = []
    for i, ev in enumerate(events):
        try:
            fp = fingerprint(ev, integration_id=integ.id)
        except FingerprintError as exc:
            raise InvalidInput(str(exc), field=f"[{i}]") from None
        subs.append(Submission(integ.tenant_id, integ.id, fp, ev))
    return await ctx.runner.submit(subs)


def _answer(results: list[Result]) -> bytes:
    """The body of an ``IngestResponse`` (as /openapi.json declares it)."""
    return orjson.dumps({
        "accepted": len(results),
        "alerts": [
            {"id": r.alert_id, "fingerprint": r.fingerprint, "outcome": r.outcome.value,
             "status": r.status}
            for r in results
        ],
    })


# --- Alertmanager, Grafana, generic -------------------------------------------------------

async def ingest_body(request: Request, kind: str, token: str | None) -> Response:
    """The body-parsed kinds' endpoint."""
    parse = BODY_PARSERS.get(kind)
    if parse is None:
        raise NotFound(f"no integration type {kind!r}; one of {', '.join(BODY_PARSERS)}",
                       field="type")
    ctx = get_context(request)
    integ = await integration_for(ctx, token_from(request, token), kind)
    events = parse(await read_json(request), integ.config, ctx.settings)
    results = await submit(ctx, integ, events)
    return Response(_answer(results), status_code=202, media_type="application/json")


@router.post("/api/v1/ingest/{kind}", status_code=202, response_model=IngestResponse)
@router.post("/api/v1/ingest/{kind}/", status_code=202, response_model=IngestResponse,
             include_in_schema=False)
async def ingest(kind: str, request: Request) -> Response:
    """Send alerts. The integration key goes in ``?token=`` or ``Authorization: Bearer``
    (without one, 401 naming ``token``)."""
    return await ingest_body(request, kind, None)


@router.post("/api/v1/ingest/{kind}/{token}", status_code=202, response_model=IngestResponse)
async def ingest_with_key(kind: str, token: str, request: Request) -> Response:
    """Send alerts, with the integration key in the path."""
    return await ingest_body(request, kind, token)


# --- PagerDuty Events API v2 --------------------------------------------------------------

def _pd_error(exc: VigilError) -> JSONResponse:
    if exc.status_code >= 500:
        headers = {"Retry-After": str(getattr(exc, "retry_after", 1))}
        return JSONResponse({"status": "overloaded", "message": exc.message}, exc.status_code,
                            headers=headers)
    errors = [
        f"'{d['field']}' is missing or blank" if d["message"] == "Field required"
        else f"'{d['field']}' {d['message']}"
        for d in exc.details
    ] or [exc.message]
    return JSONResponse({"status": "invalid event", "message": "Event object is invalid",
                         "errors": errors}, status_code=400)


@router.post("/v2/enqueue", tags=["ingest"])
@router.post("/api/v1/ingest/pagerduty/v2/enqueue", tags=["ingest"])
async def pagerduty_enqueue(request: Request) -> Response:
    """PagerDuty Events API v2 compatible: change only the URL of any PagerDuty sender."""
    ctx = get_context(request)
    try:
        payload = await read_json(request)
        event = pagerduty.parse_event(payload)
        integ = await integration_for(ctx, event.routing_key, "pagerduty")
        alert_event = pagerduty.to_alert_event(event, payload, limits=ctx.settings)
        await submit(ctx, integ, [alert_event])
    except VigilError as exc:
        return _pd_error(exc)
    return JSONResponse({"status": "success", "message": "Event processed",
                         "dedup_key": alert_event.dedup_key}, status_code=202)


# --- Opsgenie Alert API --------------------------------------------------------------------

def _og_body(message: str, started: float) -> dict[str, Any]:
    return {"message": message, "took": round(time.perf_counter() - started, 3),
            "requestId": str(uuid.uuid4())}


def _og_error(exc: VigilError, started: float) -> JSONResponse:
    headers = {"Retry-After": str(getattr(exc, "retry_after", 1))} if exc.status_code >= 500 else {}
    status = 422 if exc.status_code in (400, 422) else exc.status_code
    body = _og_body(exc.message, started)
    if exc.details:
        body["message"] = "Request body is not processable. Please check the errors."
        body["errors"] = {d["field"]: d["message"] for d in exc.details}
    return JSONResponse(body, status_code=status, headers=headers)


def _og_accepted(started: float) -> JSONResponse:
    return JSONResponse({"result": "Request will be processed",
                         "took": round(time.perf_counter() - started, 3),
                         "requestId": str(uuid.uuid4())}, status_code=202)


@router.post("/v2/alerts", tags=["ingest"])
@router.post("/api/v1/ingest/opsgenie/v2/alerts", tags=["ingest"])
async def opsgenie_create(request: Request) -> Response:
    """Opsgenie Alert API compatible create (``Authorization: GenieKey <integration key>``)."""
    started = time.perf_counter()
    ctx = get_context(request)
    try:
        integ = await integration_for(ctx, token_from(request), "opsgenie")
        event = opsgenie.parse_create(await read_json(request), ctx.settings)
        await submit(ctx, integ, [event])
    except VigilError as exc:
        return _og_error(exc, started)
    return _og_accepted(started)


def _fingerprint_of(ctx: Context, integ: IntegrationInfo, identifier: str) -> str:
    """identifierType=id (or tiny) names Vigil's alert id. An integration key acts only on
    its own integration's alerts: another integration's alert is a 404, as if it did not
    exist."""
    if not identifier.isdigit():
        raise NotFound(f"no alert with id {identifier!r}", field="identifier")
    with ctx.db.read() as s:
        try:
            alert = get_alert(s, tenant_id=integ.tenant_id, alert_id=int(identifier))
        except NotFound:
            alert = None
        if alert is None or alert.integration_id != integ.id:
            raise NotFound(f"no alert with id {identifier!r}", field="identifier")
        return alert.fingerprint


async def _opsgenie_action(request: Request, identifier: str, action: Action) -> Response:
    started = time.perf_counter()
    ctx = get_context(request)
    try:
        integ = await integration_for(ctx, token_from(request), "opsgenie")
        body = await request.body()
        payload = orjson.loads(body) if body.strip() else {}
        act = opsgenie.parse_action(payload)
        kind = request.query_params.get("identifierType", "id")
        if kind not in ("id", "tiny", "alias"):
            raise InvalidInput("identifierType must be id, tiny or alias",
                               field="identifierType")
        if kind in ("id", "tiny"):
            fp = await run_in_threadpool(_fingerprint_of, ctx, integ, identifier)
            event = AlertEvent(action=action, source="opsgenie", name=identifier,
                               actor=act.user, raw=payload)
            await ctx.runner.submit([Submission(integ.tenant_id, integ.id, fp, event)])
        else:
            event = AlertEvent(action=action, source="opsgenie", name=identifier,
                               dedup_key=identifier, actor=act.user, raw=payload)
            await submit(ctx, integ, [event])
    except orjson.JSONDecodeError as exc:
        return _og_error(MalformedBody(f"malformed JSON: {exc}", field="body"), started)
    except VigilError as exc:
        return _og_error(exc, started)
    return _og_accepted(started)


@router.post("/v2/alerts/{identifier:path}/acknowledge", tags=["ingest"])
@router.post("/api/v1/ingest/opsgenie/v2/alerts/{identifier:path}/acknowledge", tags=["ingest"])
async def opsgenie_acknowledge(identifier: str, request: Request) -> Response:
    return await _opsgenie_action(request, identifier, Action.ACKNOWLEDGE)


@router.post("/v2/alerts/{identifier:path}/close", tags=["ingest"])
@router.post("/api/v1/ingest/opsgenie/v2/alerts/{identifier:path}/close", tags=["ingest"])
async def opsgenie_close(identifier: str, request: Request) -> Response:
    return await _opsgenie_action(request, identifier, Action.RESOLVE)
