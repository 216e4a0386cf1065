"""Integrations page: each inbound source, the last characters of its key, when it last
sent, and copy-paste configuration for the sender (Alertmanager receiver, Grafana contact
point, curl). Keys are not stored, so the snippets hold a placeholder naming the key's last
characters; right after an admin creates an integration or rotates its key,
``/static/integrations.js`` shows the new key once and puts it into the snippets."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil.context import Context, get_context
from vigil.integrations import service
from vigil.integrations.api import ingest_url
from vigil.integrations.models import Integration
from vigil.integrations.registry import INTEGRATION_TYPES
from vigil.web.render import Viewer, page, signed_in

router = APIRouter(include_in_schema=False)


def _curl(url: str, body: dict[str, Any] | list[Any], *headers: str) -> str:
    lines = [f"curl -X POST '{url}'", "  -H 'Content-Type: application/json'"]
    lines += [f"  -H '{h}'" for h in headers]
    text = json.dumps(body, indent=2, ensure_ascii=False).replace("'", "'\\''")
    lines.append(f"  -d '{text}'")
    return " \\\n".join(lines)


def placeholder(integ: Integration) -> str:
    """What stands for the key in the page's snippets ("<key …a1b2>")."""
    return f"<key …{integ.key_hint}>"


def snippets(base_url: str, integ: Integration) -> list[tuple[str, str]]:
    """(title, text) blocks to configure the sender of ``integ``, the key as its
    placeholder."""
    base = base_url.rstrip("/")
    key = placeholder(integ)
    url = ingest_url(base_url, integ.type, key)
    name = "vigil-" + "".join(c if c.isalnum() else "-" for c in integ.name.lower()).strip("-")
    if integ.type == "alertmanager":
        return [("Alertmanager receiver (alertmanager.yml)",
                 f"route:\n  receiver: {name}\n  group_by: [alertname, service]\n"
                 f"receivers:\n  - name: {name}\n    webhook_configs:\n"
                 f'      - url: "{url}"\n        send_resolved: true\n        max_alerts: 0\n'),
                ("Test with curl", _curl(url, {"version": "4", "status": "firing", "alerts": [
                    {"status": "firing", "labels": {"alertname": "VigilTest",
                                                    "severity": "warning"},
                     "annotations": {"summary": "A test alert"}}]}))]
    if integ.type == "grafana":
        return [("Grafana contact point: Webhook URL (HTTP method POST)", url),
                ("Grafana provisioning (contact-points.yaml)",
                 f"apiVersion: 1\ncontactPoints:\n  - orgId: 1\n    name: {name}\n"
                 f"    receivers:\n      - uid: {name}\n        type: webhook\n"
                 f"        settings:\n          url: {url}\n          httpMethod: POST\n"
                 f"        disableResolveMessage: false\n")]
    if integ.type == "pagerduty":
        return [("PagerDuty Events API v2 (curl)", _curl(url, {
                    "routing_key": key, "event_action": "trigger",
                    "dedup_key": "db-1/disk",
                    "payload": {"summary": "Disk 95% full on db-1", "source": "db-1",
                                "severity": "critical"}})),
                ("Alertmanager pagerduty_configs",
                 f"receivers:\n  - name: {name}\n    pagerduty_configs:\n"
                 f'      - routing_key: "{key}"\n        url: "{url}"\n'
                 f"        send_resolved: true\n")]
    if integ.type == "opsgenie":
        return [("Opsgenie Alert API (curl)", _curl(
                    f"{base}/api/v1/ingest/opsgenie/v2/alerts",
                    {"message": "Disk 95% full on db-1", "alias": "db-1/disk",
                     "priority": "P2"}, f"Authorization: GenieKey {key}")),
                ("Alertmanager opsgenie_configs",
                 f"receivers:\n  - name: {name}\n    opsgenie_configs:\n"
                 f'      - api_key: "{key}"\n        api_url: "{url}"\n'
                 f"        send_resolved: true\n")]
    return [("Generic JSON webhook (curl)", _curl(url, [
        {"title": "Backup failed", "severity": "high", "id": "backup-nightly",
         "service": "backup"}]))]


@router.get("/ui/integrations", response_class=HTMLResponse)
async def integrations(request: Request, who: Viewer = Depends(signed_in()),
                       ctx: Context = Depends(get_context)) -> Response:
    def run() -> list[Integration]:
        with ctx.db.read() as s:
            rows = service.list_integrations(s, tenant_id=who.tenant_id)
            s.expunge_all()
        return rows

    rows = await run_in_threadpool(run)
    base = ctx.settings.base_url
    now = ctx.clock.now()
    items = [{"row": r, "url": ingest_url(base, r.type, placeholder(r)),
              "placeholder": placeholder(r),
              "previous_until": service.previous_key_until(r, now),
              "snippets": snippets(base, r) if r.revoked_at is None else [],
              "config": json.dumps(r.config, indent=2) if r.config else ""} for r in rows]
    return page(request, "integrations.html", who, ctx, items=items, types=INTEGRATION_TYPES)
