"""What the journeys are made of: a real ``vigil serve`` (``Node``), its test clock
(``ServerClock``), a real Alertmanager, the receivers a team's messages reach (``Peers``),
the public API (``Api``) and the on-call setup a team would make through it (``configure``).

Time: the server's clock runs ``ServerClock.offset`` ahead of real time (it reads
``VIGIL_TEST_CLOCK_FILE``), so a journey steps time by writing that file and never sleeps
to pass it. Whatever must *arrive* is waited for by polling with a deadline; that nothing
*more* arrives is checked by ``Journey.quiet``: the server has nothing left to send and the
receivers stay still for several of its ticks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx

from channel_servers import Mail, Recorded, RecordingServer, Reply, SmtpSink
from server import Server, free_port, start_server

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
#: Seconds a journey waits for something to arrive (the server ticks every 0.2 s).
WAIT = 20.0
#: Seconds (5 ticks, 10 notifier passes) the receivers must stay still for "nothing more".
QUIET = 1.0
TICK_SECONDS = "0.2"

USERS = {"alice": "alice@example.com", "bob": "bob@example.com"}
#: Where the routing rule sends the team's email notices (triggered, acknowledged, resolved).
ONCALL_LIST = "oncall@example.com"
POLICY = "checkout-oncall"
#: Step 2 of the policy pages bob this long after step 1.
STEP2_DELAY = timedelta(minutes=5)

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float = WAIT,
             context: Callable[[], str] | None = None) -> T:
    """The first truthy result of ``check``, polled until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            extra = f"\n{context()}" if context is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(0.05)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ServerClock:
    """The server's clock: real time plus ``offset``, which ``advance`` moves forward by
    rewriting the clock file (atomically, so the server never reads half a number)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = timedelta(0)
        self._write()

    def now(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, **kwargs: float) -> datetime:
        self.offset += timedelta(**kwargs)
        self._write()
        return self.now()

    def _write(self) -> None:
        before = self.path.stat() if self.path.exists() else None
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.write_text(f"{self.offset.total_seconds():.3f}\n")
        os.replace(tmp, self.path)
        after = self.path.stat()
        if before is not None and (after.st_mtime_ns, after.st_size) == (
                before.st_mtime_ns, before.st_size):
            # The server notices a change by (mtime, size): make sure it sees one.
            os.utime(self.path, ns=(after.st_atime_ns, before.st_mtime_ns + 1_000_000))


# --- what the receivers got -----------------------------------------------------------

_EVENT = re.compile(r"\b(TRIGGERED|ESCALATED|ACKNOWLEDGED|RESOLVED)\b")
_INC = re.compile(r"\bINC-(\d+)\b")
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_LINK = re.compile(r"https?://[^\s\"'<>]+/a/[A-Za-z0-9._~%-]+")


@dataclass(frozen=True)
class Received:
    """One message as a person (or the tool behind a webhook) sees it."""

    via: str  # email, webhook, slack, teams
    to: str  # a username for pages to people; the address or channel of a notice
    key: str | None  # X-Vigil-Key (email, webhook): the delivery's idempotency key
    event: str | None  # triggered, escalated, acknowledged, resolved
    subject: str  # the email's Subject, the webhook's title, the chat message's text
    text: str  # everything the message says
    incident: int | None  # the INC-n it names


def _who(address: str) -> str:
    for user, email in USERS.items():
        if address.lower() == email:
            return user
    return address


def _from_mail(mail: Mail) -> Received:
    msg = mail.message
    parts = []
    for kind in ("plain", "html"):
        body = msg.get_body(preferencelist=(kind,))
        if body is not None:
            parts.append(body.get_content())
    subject = str(msg["Subject"] or "")
    text = "\n".join(parts)
    number = _INC.search(subject) or _INC.search(text)
    to = ", ".join(_who(a) for a in mail.rcpt_tos)
    return Received("email", to, msg["X-Vigil-Key"], msg["X-Vigil-Event"], subject, text,
                    int(number.group(1)) if number else None)


def _from_hook(rec: Recorded) -> Received:
    body = rec.json if rec.body else {}
    key = rec.headers.get("x-vigil-key")
    # Who was paged: the contact method's own URL (/alice), else the person named in the
    # idempotency key ("<incident>:<epoch>:<step>:<repeat>:<target>:<id>:<user>:<method>").
    user = rec.path.strip("/").rsplit("/", 1)[-1]
    if user not in USERS:
        parts = (key or "").split(":")
        user = next((u for u in USERS if u in parts), rec.path)
    incident = (body.get("incident") or {}).get("number") if isinstance(body, dict) else None
    title = str(body.get("title", "")) if isinstance(body, dict) else ""
    if incident is None and (found := _INC.search(title)):
        incident = int(found.group(1))
    return Received("webhook", user, key, rec.headers.get("x-vigil-event"), title,
                    rec.body.decode(), incident)


def _from_chat(via: str, rec: Recorded) -> Received:
    text = rec.body.decode()
    body = rec.json if rec.body else {}
    subject = str(body.get("text", "")) if isinstance(body, dict) and via == "slack" else text
    event = _EVENT.search(subject) or _EVENT.search(text)
    number = _INC.search(subject) or _INC.search(text)
    return Received(via, via, None, event.group(1).lower() if event else None, subject, text,
                    int(number.group(1)) if number else None)


class HeldReply(Reply):
    """A receiver's answer given only once ``gate`` is set: the request has arrived (it is
    recorded) but its sender waits for the answer, e.g. while it is killed."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(200, b"ok")
        self.gate = gate

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        self.gate.wait(WAIT)
        return super().encoded()


class Peers:
    """The team's receivers on 127.0.0.1: an SMTP server, the webhook the pages go to, a
    Slack and a Teams incoming webhook, and a tap that records what Alertmanager sent."""

    def __init__(self) -> None:
        self.smtp = SmtpSink()
        self.hooks = RecordingServer()
        self.slack = RecordingServer()
        self.teams = RecordingServer()
        self.tap = RecordingServer()

    def __enter__(self) -> Peers:
        self.smtp.__enter__()
        for srv in (self.hooks, self.slack, self.teams, self.tap):
            srv.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in (self.hooks, self.slack, self.teams, self.tap):
            srv.__exit__(*exc)
        self.smtp.__exit__(*exc)

    def received(self) -> list[Received]:
        return ([_from_mail(m) for m in list(self.smtp.mails)]
                + [_from_hook(r) for r in list(self.hooks.requests)]
                + [_from_chat("slack", r) for r in list(self.slack.requests)]
                + [_from_chat("teams", r) for r in list(self.teams.requests)])

    def count(self) -> int:
        return (len(self.smtp.mails) + len(self.hooks.requests) + len(self.slack.requests)
                + len(self.teams.requests))


def select_received(items: Iterable[Received], *, via: str | None = None,
                    to: str | None = None, event: str | None = None,
                    incident: int | None = None) -> list[Received]:
    return [r for r in items if (via is None or r.via == via) and (to is None or r.to == to)
            and (event is None or r.event == event)
            and (incident is None or r.incident == incident)]


def by_key(items: Iterable[Received]) -> dict[str, list[Received]]:
    """Messages by delivery key: a receiver that deduplicates keeps one of each."""
    out: dict[str, list[Received]] = {}
    for r in items:
        out.setdefault(r.key or f"(no key) {r.via} {r.subject}", []).append(r)
    return out


def describe(items: Iterable[Received]) -> str:
    lines = [f"  {r.via:7} to={r.to:20} event={r.event!s:12} INC-{r.incident} key={r.key} "
             f"| {r.subject[:90]}" for r in items]
    return "\n".join(lines) or "  (nothing)"


# --- Alertmanager ---------------------------------------------------------------------

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


def page_summary(items: Iterable[Received]) -> dict[tuple[str, str, str | None], int]:
    """Distinct pages (by key) per (who, how, event): what a deduplicating receiver kept."""
    counts: dict[tuple[str, str, str | None], int] = {}
    for msgs in by_key(items).values():
        first = msgs[0]
        k = (first.to, first.via, first.event)
        counts[k] = counts.get(k, 0) + 1
    return counts


def json_of(item: Received) -> Any:
    return json.loads(item.text)
