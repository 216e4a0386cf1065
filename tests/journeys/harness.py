"""What the journeys are made of: a real ``vigil serve`` (``Node``), the public API (``Api``),
the on-call setup a team would make through it (``configure``) and ``Journey``, which ties
them to the server's clock (``journeys.timing``), the team's receivers (``journeys.peers``)
and a real Alertmanager (``journeys.alertmanager``).

Time: the server's clock runs ``ServerClock.offset`` ahead of real time (it reads
``VIGIL_TEST_CLOCK_FILE``), so a journey steps time by writing that file and never sleeps
to pass it. Whatever must *arrive* is waited for by polling with a deadline; that nothing
*more* arrives is checked by ``Journey.quiet``: the server has nothing left to send and the
receivers stay still for several of its ticks.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from journeys.alertmanager import Alertmanager, AmAlert
from journeys.peers import USERS, Peers, Received, by_key, describe, select_received
from journeys.timing import WAIT, ServerClock, T, wait_for
from server import Server, free_port, start_server

#: Seconds (5 ticks, 10 notifier passes) the receivers must stay still for "nothing more".
QUIET = 1.0
TICK_SECONDS = "0.2"

#: Where the routing rule sends the team's email notices (triggered, acknowledged, resolved).
ONCALL_LIST = "oncall@example.com"
POLICY = "checkout-oncall"
#: Step 2 of the policy pages bob this long after step 1.
STEP2_DELAY = timedelta(minutes=5)

_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_LINK = re.compile(r"https?://[^\s\"'<>]+/a/[A-Za-z0-9._~%-]+")


# --- Vigil ----------------------------------------------------------------------------

class Api:
    """Vigil's public API with the admin key of the first-run banner."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=15,
                                   headers={"Authorization": f"Bearer {key}"})

    def call(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        resp = self.client.request(method, path, **kwargs)
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self.call("POST", path, expect=201, json=body)
        return made

    def incidents(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/api/v1/incidents",
                                                params={"limit": 500})["items"]
        return sorted(items, key=lambda i: i["number"])

    def incident(self, number: int) -> dict[str, Any]:
        found = [i for i in self.incidents() if i["number"] == number]
        assert found, f"no incident INC-{number}: {self.incidents()}"
        return found[0]

    def alerts(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/api/v1/alerts",
                                                params={"limit": 500})["items"]
        return items

    def deliveries(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/api/v1/deliveries",
                                                params={"limit": 1000})
        return items

    def escalation(self, incident_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/v1/incidents/{incident_id}/escalation")
        return found

    def close(self) -> None:
        self.client.close()


class Node:
    """One ``vigil serve`` process on a fixed port, so it can be killed and started again
    where Alertmanager and the links in sent emails expect it."""

    def __init__(self, db_url: str, workdir: Path, clock: ServerClock) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"VIGIL_TICK_SECONDS": TICK_SECONDS, "VIGIL_PUBLIC_URL": self.url,
                    "VIGIL_TEST_CLOCK_FILE": str(clock.path), "VIGIL_LOG_LEVEL": "warning"}
        self.server: Server = self._start()  # (it migrates the database first)
        assert self.server.api_key and self.server.integration_key, self.server.log.read_text()
        self.api_key: str = self.server.api_key
        self.integration_key: str = self.server.integration_key

    def _start(self) -> Server:
        return start_server(self.db_url, self.workdir, port=self.port, env=self.env)

    @property
    def ingest_url(self) -> str:
        return f"{self.url}/api/v1/ingest/alertmanager/{self.integration_key}"

    def kill9(self) -> None:
        self.server.kill(signal.SIGKILL)

    def restart(self) -> None:
        self.server = self._start()

    def stop(self) -> None:
        try:
            self.server.kill(signal.SIGTERM)
        except subprocess.TimeoutExpired:  # (it waits for sends under way, up to 30 s)
            self.server.kill(signal.SIGKILL)

    def log(self) -> str:
        return self.server.log.read_text(errors="replace")

    def problems(self) -> list[str]:
        """What went wrong, by the log: each error record with the exception that ended
        its traceback, if any (repeats counted, not repeated)."""
        found: list[str] = []
        current: str | None = None
        for line in self.log().splitlines():
            if _RECORD.match(line) or line.startswith(("ERROR:", "CRITICAL:")):
                if current is not None:
                    found.append(current)
                bad = " ERROR " in line or " CRITICAL " in line or not _RECORD.match(line)
                current = line if bad else None
            elif current is not None and line and not line[0].isspace() \
                    and not line.startswith("Traceback"):
                current = f"{current} -- {line}"
        if current is not None:
            found.append(current)
        counted: dict[str, int] = {}
        for line in found:
            what = line.split(" ", 2)[-1] if _RECORD.match(line) else line  # no timestamp
            counted[what] = counted.get(what, 0) + 1
        return [f"{what} (x{n})" if n > 1 else what for what, n in counted.items()]


def configure(api: Api, peers: Peers) -> None:
    """The on-call setup of a small team, made as a person would make it, through the API:

    * alice and bob, each reachable by email and by webhook at once (high urgency);
    * a schedule ``primary`` with alice on call;
    * ``checkout-oncall``: step 1 pages whoever is on call on ``primary``, step 2 pages bob
      5 minutes later, and the whole list runs once more (``repeat: 1``) unless someone
      acknowledges;
    * services ``checkout`` and ``payments`` of team ``sre``, both escalating by it;
    * personal email (SMTP) and webhook channels for the pages; a Slack and a Teams
      channel; a routing rule announcing every incident's triggered, acknowledged and
      resolved events on Slack, Teams and by email to the on-call list.
    """
    for user, email in USERS.items():
        made = api.create("/api/v1/users", {"username": user, "name": user.title(),
                                            "email": email, "time_zone": "Europe/Berlin"})
        base = f"/api/v1/users/{made['id']}"
        for kind, address in (("email", email), ("webhook", f"{peers.hooks.url}/{user}")):
            cm = api.create(f"{base}/contact-methods", {"type": kind, "address": address,
                                                        "label": kind})
            api.create(f"{base}/notification-rules", {"contact_method_id": cm["id"],
                                                      "urgency": "high", "delay_minutes": 0})
    api.create("/api/v1/schedules", {
        "name": "primary", "time_zone": "Europe/Berlin",
        "layers": [{"name": "weekly", "rotation": {
            "type": "weekly", "start": "2024-01-01T09:00", "participants": ["alice"]}}]})
    api.create("/api/v1/escalation-policies", {
        "name": POLICY, "repeat": 1,
        "steps": [{"delay": 0, "targets": [{"schedule": "primary"}]},
                  {"delay_minutes": int(STEP2_DELAY.total_seconds() // 60),
                   "targets": [{"user": "bob"}]}]})
    api.create("/api/v1/teams", {"name": "sre", "members": list(USERS)})
    for service in ("checkout", "payments"):
        api.create("/api/v1/services", {"name": service, "team": "sre",
                                        "escalation_policy": POLICY})
    api.create("/api/v1/channels", {
        "name": "smtp", "kind": "email", "personal": True,
        "config": {"smtp_host": "127.0.0.1", "smtp_port": peers.smtp.port, "security": "none",
                   "from_address": "Vigil <vigil@example.com>"}})
    api.create("/api/v1/channels", {"name": "pager-hook", "kind": "webhook", "personal": True,
                                    "config": {"url": f"{peers.hooks.url}/channel"}})
    api.create("/api/v1/channels", {
        "name": "team-slack", "kind": "slack",
        "config": {"webhook_url": f"{peers.slack.url}/services/T000/B000/XXXX"}})
    api.create("/api/v1/channels", {"name": "team-teams", "kind": "teams",
                                    "config": {"webhook_url": f"{peers.teams.url}/workflow"}})
    api.create("/api/v1/routing-rules", {
        "name": "announce", "events": ["triggered", "acknowledged", "resolved"],
        "channels": ["team-slack", "team-teams", "smtp"], "address": ONCALL_LIST})


@dataclass
class Journey:
    """Everything one journey runs against."""

    node: Node
    api: Api
    clock: ServerClock
    peers: Peers
    am: Alertmanager
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    # -- what arrived ------------------------------------------------------------------

    def received(self, **filters: Any) -> list[Received]:
        return select_received(self.peers.received(), **filters)

    def context(self) -> str:
        """What a failing assertion should show: messages, incidents, deliveries, log."""
        try:
            lines = []
            for i in self.api.incidents():
                esc = self.api.escalation(i["id"])
                lines.append(f"  INC-{i['number']} {i['status']} {i['title']!r} "
                             f"(escalation {esc['status']}, next at {esc['next_at']})")
                timeline = self.api.call("GET", f"/api/v1/incidents/{i['id']}")["timeline"]
                lines += [f"    {t['at']} {t['actor']}: {t.get('message') or t['kind']}"
                          for t in timeline[-12:]]
            incidents = "\n".join(lines) or "  (none)"
            deliveries = "\n".join(
                f"  {d['id']} {d['status']:9} {d['event']:12} {d['channel_kind']:7} "
                f"{d['recipient'] or d['address']} {d['key']} {d['last_error'] or ''}"
                for d in reversed(self.api.deliveries())) or "  (none)"
        except (AssertionError, httpx.HTTPError) as exc:
            incidents = deliveries = f"  (API not answering: {exc})"
        problems = "\n".join(self.node.problems()[-15:]) or "  (none)"
        return (f"received:\n{describe(self.peers.received())}\nincidents:\n{incidents}\n"
                f"deliveries:\n{deliveries}\nserver log errors:\n{problems}")

    def wait(self, what: str, check: Callable[[], T | None], timeout: float = WAIT) -> T:
        return wait_for(check, what, timeout, self.context)

    def wait_received(self, what: str, n: int = 1, **filters: Any) -> list[Received]:
        """At least ``n`` distinct messages (by key) matching ``filters``."""
        def enough() -> list[Received] | None:
            found = self.received(**filters)
            return found if len(by_key(found)) >= n else None
        return self.wait(what, enough)

    def quiet(self) -> None:
        """Wait until the server has nothing left to send now and nothing more arrives
        for ``QUIET`` seconds (many ticks and notifier passes at the current time)."""
        def settled() -> bool:
            now = self.clock.now()
            for d in self.api.deliveries():
                if d["status"] == "sending":
                    return False
                if d["status"] in ("pending", "retrying") and d["next_attempt_at"] and \
                        datetime.fromisoformat(d["next_attempt_at"]).replace(
                            tzinfo=UTC) <= now:
                    return False
            return True
        self.wait("the server to send everything due", settled)
        seen, since = self.peers.count(), time.monotonic()
        while time.monotonic() - since < QUIET:
            time.sleep(0.05)
            if self.peers.count() != seen:
                seen, since = self.peers.count(), time.monotonic()

    # -- acting as people and tools ----------------------------------------------------

    def incident_id(self, number: int) -> int:
        found: int = self.api.incident(number)["id"]
        return found

    def wait_incident(self, number: int, status: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            found = [i for i in self.api.incidents() if i["number"] == number]
            return found[0] if found and found[0]["status"] == status else None
        return self.wait(f"INC-{number} to be {status}", check)

    def wait_alert(self, alert: AmAlert, status: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            found = [a for a in self.api.alerts() if a["labels"] == alert.labels]
            return found[0] if found and any(a["status"] == status for a in found) else None
        return self.wait(f"alert {alert.name} to be {status} in Vigil", check)

    def post_to_vigil(self, body: bytes) -> httpx.Response:
        """An Alertmanager notification sent to Vigil's webhook as Alertmanager sends it."""
        return self.http.post(self.node.ingest_url, content=body,
                              headers={"Content-Type": "application/json",
                                       "User-Agent": "Alertmanager/0.25.0"})

    def open_link(self, email: Received, action: str) -> str:
        """Open the ``action`` link of an email as a browser would: GET the page it
        points to (which must only ask), then press its button (POST). The final page."""
        for url in dict.fromkeys(_LINK.findall(email.text)):
            page = self.http.get(url)
            if page.status_code == 200 and f"{action.capitalize()} INC-" in page.text:
                assert 'method="post"' in page.text, page.text
                done = self.http.post(url)
                assert done.status_code == 200, done.text
                return done.text
        raise AssertionError(f"no working {action} link in the email {email.subject!r}:\n"
                             f"{email.text}")

    def close(self) -> None:
        self.http.close()
        self.api.close()
