"""A real Alertmanager (Debian's ``prometheus-alertmanager``) delivering to Vigil's webhook
and to a tap, the alerts it is told to fire, resolve and fire again, and what it sent.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from channel_servers import RecordingServer
from journeys.timing import rfc3339, utc_now, wait_for
from server import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@dataclass
class AmAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str

    @property
    def name(self) -> str:
        return self.labels["alertname"]


class Alertmanager:
    """Debian's prometheus-alertmanager on 127.0.0.1 (no cluster), delivering every group
    to ``receivers`` (Vigil's webhook and the tap) at once and every second after."""

    def __init__(self, workdir: Path, receivers: list[str]) -> None:
        assert ALERTMANAGER is not None
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / "alertmanager.log"
        hooks = "\n".join(f'      - {{url: "{url}", send_resolved: true}}' for url in receivers)
        config = workdir / "alertmanager.yml"
        config.write_text(f"""
route:
  receiver: vigil
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: vigil
    webhook_configs:
{hooks}
""")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={config}", f"--storage.path={workdir / 'am'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                stdout=out, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=10)

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited: {self.log.read_text()[-2000:]}")
            try:
                return self.client.get("/-/ready").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "alertmanager to be ready", 30)

    def post(self, *alerts: dict[str, Any]) -> None:
        resp = self.client.post("/api/v2/alerts", json=list(alerts))
        assert resp.status_code == 200, resp.text

    def fire(self, name: str, *, service: str, summary: str, severity: str = "critical",
             **labels: str) -> AmAlert:
        alert = AmAlert({"alertname": name, "service": service, "severity": severity,
                         **labels},
                        {"summary": summary,
                         "runbook_url": f"https://runbooks.example.com/{name}"},
                        rfc3339(utc_now()))
        self.post({"labels": alert.labels, "annotations": alert.annotations,
                   "startsAt": alert.starts_at,
                   "generatorURL": f"http://prometheus.example.com/graph?g0.expr={name}"})
        return alert

    def resolve(self, alert: AmAlert) -> None:
        self.post({"labels": alert.labels, "annotations": alert.annotations,
                   "startsAt": alert.starts_at, "endsAt": rfc3339(utc_now())})

    def refire(self, alert: AmAlert) -> AmAlert:
        """The same alert firing again after it resolved (a new ``startsAt``)."""
        again = AmAlert(alert.labels, alert.annotations, rfc3339(utc_now()))
        self.post({"labels": again.labels, "annotations": again.annotations,
                   "startsAt": again.starts_at})
        return again

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def sent_by_alertmanager(tap: RecordingServer, alert: AmAlert, status: str) -> bytes | None:
    """The body of the first notification Alertmanager sent with ``alert`` in ``status``."""
    for rec in list(tap.requests):
        body = rec.json
        for a in body.get("alerts", []):
            if a.get("labels") == alert.labels and a.get("status") == status:
                return rec.body
    return None
