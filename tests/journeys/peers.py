"""What the team's receivers got (``Peers``: SMTP, the pages' webhook, Slack, Teams and a
tap on Alertmanager), read as a person sees it (``Received``), and the ways the journeys
select, group and summarise those messages.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from channel_servers import Mail, Recorded, RecordingServer, Reply, SmtpSink
from journeys.timing import WAIT

USERS = {"alice": "alice@example.com", "bob": "bob@example.com"}

_EVENT = re.compile(r"\b(TRIGGERED|ESCALATED|ACKNOWLEDGED|RESOLVED)\b")
_INC = re.compile(r"\bINC-(\d+)\b")


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
