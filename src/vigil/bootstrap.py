"""First run: an admin API key and an Alertmanager integration, printed once."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.auth.service import count_active_api_keys, create_api_key
from vigil.clock import Clock
from vigil.db import Database
from vigil.integrations.service import create_integration
from vigil.tenants.models import DEFAULT_TENANT_ID


@dataclass(frozen=True)
class FirstRun:
    api_key: str
    integration_key: str


def first_run(db: Database, clock: Clock) -> FirstRun | None:
    """Create the first credentials if there are none yet; None when already set up."""
    with db.write() as s:
        if count_active_api_keys(s):
            return None
        now = clock.now()
        _, raw = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name="admin (first run)",
                                role="admin", now=now)
        _, integration_key = create_integration(s, tenant_id=DEFAULT_TENANT_ID,
                                                name="Alertmanager", type="alertmanager",
                                                now=now)
        return FirstRun(api_key=raw, integration_key=integration_key)


def setup_banner(setup_url: str) -> str:
    """Printed by ``vigil serve`` while nobody can sign in yet (not the first run)."""
    return f"""
================================================================================
 Nobody can sign in to Vigil yet. Create the first administrator, once, at:

   {setup_url}

 (a new link replaces this one: `vigil setup-token`)
================================================================================
"""


def banner(first: FirstRun, base_url: str, setup_url: str | None = None) -> str:
    url = f"{base_url}/api/v1/ingest/alertmanager/{first.integration_key}"
    web = (f"{setup_url}\n           (once: creates the first administrator; "
           "`vigil setup-token` prints a new link)" if setup_url else f"{base_url}/")
    return f"""
================================================================================
 Vigil is set up. These credentials are shown once; keep them somewhere safe.

   Admin API key:            {first.api_key}
   Alertmanager integration: {first.integration_key}

 Send a test alert:

   curl -s -X POST {url} \\
     -H 'Content-Type: application/json' \\
     -d '{{"version":"4","status":"firing","alerts":[{{"status":"firing",
          "labels":{{"alertname":"VigilTest","severity":"warning","service":"demo"}},
          "annotations":{{"summary":"Hello from curl"}}}}]}}'

 List alerts:

   curl -s {base_url}/api/v1/alerts -H 'Authorization: Bearer {first.api_key}'

 Web UI:   {web}
 API docs: {base_url}/docs
================================================================================
"""
