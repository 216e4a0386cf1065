"""Alert pages: the filtered, keyset-paginated list and one alert with its labels, links,
raw history and the one-click "silence these labels" / maintenance-window form."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.alerts import service
from vigil.alerts.models import Alert
from vigil.context import Context, get_context
from vigil.core.severity import SEVERITY_LABELS
from vigil.errors import InvalidInput, NotFound
from vigil.http.ids import BigIdPath
from vigil.incidents.models import Incident
from vigil.integrations.models import Integration
from vigil.web.pages.common import SEVERITIES, not_found, safe_href
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
EVENTS = 100
RAW_CHARS = 4000
#: (minutes, label) offered by the silence / maintenance form.
DURATIONS = ((30, "30 minutes"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours"),
             (480, "8 hours"), (1440, "1 day"), (4320, "3 days"), (10080, "1 week"))
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _url(params: dict[str, str]) -> str:
    return "/ui/alerts?" + urlencode({k: v for k, v in params.items() if v})


@router.get("/ui/alerts", response_class=HTMLResponse)
async def alert_list(
    request: Request, status: str = "", severity: str = "",
    service_: str = Query("", alias="service"), q: str = "", cursor: str = "",
    who: Viewer = Depends(signed_in()), ctx: Context = Depends(get_context),
) -> Response:
    """One keyset page of ``list_alerts`` (newest first); no total count."""
    values = {"status": status.strip().lower(), "severity": severity.strip().lower(),
              "service": service_.strip(), "q": q.strip()}
    if values["status"] not in service.STATUSES:
        values["status"] = ""
    if values["severity"] not in SEVERITIES:
        values["severity"] = ""
    filters = service.AlertFilter(
        status=[values["status"]] if values["status"] else None,
        severity=[values["severity"]] if values["severity"] else None,
        service=[values["service"]] if values["service"] else None,
        text=values["q"] or None)

    def run() -> tuple[list[Alert], str | None, str | None]:
        with ctx.db.read() as s:
            error = None
            try:
                rows, nxt = service.list_alerts(s, tenant_id=who.tenant_id, filters=filters,
                                                limit=PAGE_SIZE, cursor=cursor.strip() or None)
            except InvalidInput as exc:
                error = exc.message
                rows, nxt = service.list_alerts(s, tenant_id=who.tenant_id, filters=filters,
                                                limit=PAGE_SIZE)
            s.expunge_all()
            return rows, nxt, error

    rows, nxt, error = await run_in_threadpool(run)
    return page(request, "alerts.html", who, ctx, alerts=rows, values=values, error=error,
                statuses=service.STATUSES, severities=SEVERITIES,
                next_url=_url({**values, "cursor": nxt}) if nxt else None,
                first_url=_url(values) if cursor else None)


def silence_labels(alert: Alert) -> list[dict[str, Any]]:
    """The labels a silence of this alert can match (those silences see: its own labels
    over its name, severity, service and environment), each marked usable or not."""
    labels = {"alertname": alert.name, "severity": SEVERITY_LABELS.get(alert.severity, "")}
    if alert.service:
        labels["service"] = alert.service
    if alert.environment:
        labels["environment"] = alert.environment
    labels.update({str(k): str(v) for k, v in (alert.labels or {}).items()})
    return [{"name": k, "value": v,
             "usable": bool(_LABEL_NAME.match(k)) and len(k) <= 200 and len(v) <= 1000}
            for k, v in sorted(labels.items())]


def _suppressed(value: str | None) -> tuple[str, str | None] | None:
    """``suppressed_by`` as (text, link)."""
    if not value:
        return None
    kind, _, ident = value.partition(":")
    if kind == "silence" and ident.isdigit():
        return f"silence {ident}", f"/ui/silences#silence-{ident}"
    if kind == "maintenance" and ident.isdigit():
        return f"maintenance window {ident}", f"/ui/silences#window-{ident}"
    if kind == "inhibited":
        return f"inhibition rule {ident}", "/ui/silences#inhibitions"
    return value, None


def _dump(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= RAW_CHARS else text[:RAW_CHARS] + "\n… (cut)"


@router.get("/ui/alerts/{alert_id}", response_class=HTMLResponse)
async def alert_detail(request: Request, alert_id: BigIdPath, who: Viewer = Depends(signed_in()),
                       ctx: Context = Depends(get_context)) -> Response:
    def run() -> dict[str, Any] | None:
        with ctx.db.read() as s:
            try:
                alert = service.get_alert(s, tenant_id=who.tenant_id, alert_id=alert_id)
            except NotFound:
                return None
            events = service.alert_events(s, alert_id=alert.id, limit=EVENTS)
            incident = s.get(Incident, alert.incident_id) if alert.incident_id else None
            integration = s.get(Integration, alert.integration_id) \
                if alert.integration_id else None
            out = {
                "alert": alert, "events": events, "incident": incident,
                "integration": integration.name if integration else None,
                "labels": silence_labels(alert),
                "links": [(str(link.get("text") or link.get("href") or ""),
                           safe_href(link.get("href"))) for link in alert.links or []
                          if isinstance(link, dict)],
                "suppressed": _suppressed(alert.suppressed_by),
                "raw": _dump(alert.raw),
                "payloads": {e.id: _dump(e.payload) for e in events},
            }
            s.expunge_all()
            return out

    data = await run_in_threadpool(run)
    if data is None:
        return not_found(request, who, ctx, f"There is no alert {alert_id}.",
                         ("All alerts", "/ui/alerts"))
    now = ctx.clock.now()
    name = f"{data['alert'].name[:120]} (alert {alert_id}) {now:%Y-%m-%d %H:%M}"
    return page(request, "alert.html", who, ctx, durations=DURATIONS, window_name=name,
                **data)
