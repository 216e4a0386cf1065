"""Real Prometheus and Alertmanager (Debian's binaries) paging a real Vigil: an alert rule
fires, Alertmanager delivers it through its webhook, PagerDuty and Opsgenie receivers, and
then it resolves. Skipped where the binaries are missing, unless VIGIL_TEST_REQUIRE_E2E=1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import pg_available  # noqa: F401
from server import Server, free_port, start_server

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
REQUIRE = os.environ.get("VIGIL_TEST_REQUIRE_E2E") == "1"

pytestmark = pytest.mark.e2e


def _need_binaries() -> None:
    if PROMETHEUS and ALERTMANAGER:
        return
    if REQUIRE:
        pytest.fail("prometheus and prometheus-alertmanager are required in CI")
    pytest.skip("Debian's prometheus and prometheus-alertmanager are not installed")


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def vigil_server(tmp_path: Path, sqlite_template: Path) -> Iterator[Server]:
    _need_binaries()
    db = tmp_path / "vigil.db"
    shutil.copy(sqlite_template, db)
    server = start_server(f"sqlite:///{db}", tmp_path)
    yield server
    server.kill(signal.SIGTERM)


def _integration(server: Server, kind: str) -> str:
    resp = httpx.post(f"{server.url}/api/v1/integrations",
                      headers={"Authorization": f"Bearer {server.api_key}"},
                      json={"name": f"e2e {kind}", "type": kind})
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def test_prometheus_alert_fires_and_resolves_through_alertmanager(
    vigil_server: Server, tmp_path: Path
) -> None:
    server = vigil_server
    pd_key = _integration(server, "pagerduty")
    og_key = _integration(server, "opsgenie")
    prom_port, am_port = free_port(), free_port()
    rules = tmp_path / "rules.yml"
    rules.write_text("""
groups:
  - name: vigil-e2e
    interval: 1s
    rules:
      - alert: VigilE2EDiskFull
        expr: vector(1)
        labels: {severity: critical, service: storage, env: e2e}
        annotations:
          summary: "Disk is full on e2e"
          runbook_url: "https://runbooks.example.com/disk"
""")
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
""")
    (tmp_path / "alertmanager.yml").write_text(f"""
global: {{resolve_timeout: 5s}}
route:
  receiver: vigil-webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{receiver: vigil-webhook, continue: true}}
    - {{receiver: vigil-pagerduty, continue: true}}
    - {{receiver: vigil-opsgenie, continue: true}}
receivers:
  - name: vigil-webhook
    webhook_configs:
      - url: "{server.url}/api/v1/ingest/alertmanager/{server.integration_key}"
        send_resolved: true
  - name: vigil-pagerduty
    pagerduty_configs:
      - routing_key: "{pd_key}"
        url: "{server.url}/v2/enqueue"
        send_resolved: true
  - name: vigil-opsgenie
    opsgenie_configs:
      - api_key: "{og_key}"
        api_url: "{server.url}/api/v1/ingest/opsgenie/"
        send_resolved: true
""")
    am = Proc([ALERTMANAGER or "", f"--config.file={tmp_path / 'alertmanager.yml'}",
               f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
               "--cluster.listen-address="], tmp_path / "am.log")
    prom = Proc([PROMETHEUS or "", f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'prom'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}", "--web.enable-lifecycle",
                 # the first send precedes Alertmanager discovery; resend soon, not in 1 min
                 "--rules.alert.resend-delay=1s"],
                tmp_path / "prom.log")
    auth = {"Authorization": f"Bearer {server.api_key}"}

    def alerts(**params: Any) -> list[dict[str, Any]]:
        resp = httpx.get(f"{server.url}/api/v1/alerts", params=params, headers=auth)
        items: list[dict[str, Any]] = resp.json()["items"]
        return items

    def by_source() -> dict[str, dict[str, Any]]:
        return {a["source"]: a for a in alerts()}

    try:
        wait_for(lambda: _ready(f"http://127.0.0.1:{am_port}/-/ready"), 30,
                 f"alertmanager: {(tmp_path / 'am.log').read_text()[-2000:]}")
        firing = wait_for(lambda: len(by_source()) == 3 and by_source(), 60,
                          "the alert to arrive through all three receivers")
        webhook = firing["alertmanager"]
        assert webhook["status"] == "firing"
        assert webhook["name"] == "VigilE2EDiskFull"
        assert webhook["severity"] == "critical"
        assert webhook["service"] == "storage"
        assert webhook["labels"]["env"] == "e2e"
        assert any(link["text"] == "Runbook" for link in webhook["links"])
        assert firing["pagerduty"]["status"] == "firing"
        assert firing["opsgenie"]["status"] == "firing"

        # Remove the rule: Prometheus resolves the alert and Alertmanager says so.
        rules.write_text("groups: []\n")
        reload = httpx.post(f"http://127.0.0.1:{prom_port}/-/reload")
        assert reload.status_code == 200
        resolved = wait_for(
            lambda: all(a["status"] == "resolved" for a in alerts()) and by_source(), 60,
            "the alert to be resolved through all three receivers",
        )
        assert set(resolved) == {"alertmanager", "pagerduty", "opsgenie"}
        assert len(alerts()) == 3  # re-sent groups never duplicated an alert
    finally:
        prom.stop()
        am.stop()
