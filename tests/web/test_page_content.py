"""What a page says, end to end on both databases through real receivers (an SMTP sink and a
recording HTTP server on 127.0.0.1): the alert's links, the incident named once, a resolved
notice with its resolution note and no action links, a person's own webhook URL, and an
acknowledgement by signed link recorded as the person the link was sent to."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from channel_servers import Recorded, RecordingServer, Reply, SmtpSink
from channel_sinks import channel, email_channel
from conftest import Harness
from incident_api import act, alert, am, detail, incidents
from paging import escalate, people, setup
from vigil.auth import signing
from vigil.auth.models import User
from vigil.notify import links
from vigil.oncall.models import ContactMethod, NotificationRule
from vigil.worker.notifier import run_once

TS = "1700000000.000100"
SOURCE = "https://prom.example/graph?g0.expr=up"
RUNBOOK = "https://wiki.example/runbooks/down"


@pytest.fixture
def srv() -> Iterator[RecordingServer]:
    # Answers Slack's Web API, Teams and webhooks alike.
    with RecordingServer(default=Reply(200, {"ok": True, "channel": "C0OPS", "ts": TS})) as s:
        yield s


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def linked_alert() -> dict[str, Any]:
    a = alert("Down", severity="critical")
    a["generatorURL"] = SOURCE
    a["annotations"]["runbook_url"] = RUNBOOK
    return a


def routed_everywhere(h: Harness, srv: RecordingServer, sink: SmtpSink) -> None:
    channel(h, name="ops-mail", kind="email", config={
        "smtp_host": "127.0.0.1", "smtp_port": sink.port, "security": "none",
        "from_address": "vigil@example.com"})
    channel(h, name="ops-slack", kind="slack", config={
        "token": "xoxb-test-token", "channel": "#ops", "base_url": f"{srv.url}/api/"})
    channel(h, name="ops-teams", kind="teams", config={"webhook_url": f"{srv.url}/teams"})
    channel(h, name="ops-hook", kind="webhook", config={"url": f"{srv.url}/hook"})
    for rule in ({"name": "mail", "channels": ["ops-mail"], "address": "ops@example.com"},
                 {"name": "chat", "channels": ["ops-slack", "ops-teams", "ops-hook"]}):
        made = h.client.post("/api/v1/routing-rules", headers=h.auth, json=rule)
        assert made.status_code == 201, made.text


def parts(mail: Any) -> tuple[str, str]:
    """(plain text, html) of a notification email."""
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    return str(text), str(html)


def by_path(requests: list[Recorded]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in requests:
        out.setdefault(r.path, []).append(r.json)
    return out


def card(body: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = body["attachments"][0]["content"]
    return content


def test_every_channel_shows_the_alerts_links_and_names_the_incident_once(
        vigil: Harness, srv: RecordingServer, sink: SmtpSink) -> None:
    routed_everywhere(vigil, srv, sink)
    vigil.post_alertmanager(am(linked_alert()))
    assert run_once(vigil.ctx).counts["sent"] == 4
    mail = sink.wait()
    text, html = parts(mail.message)
    assert f"Source: {SOURCE}" in text and f"Runbook: {RUNBOOK}" in text
    assert f'<a href="{RUNBOOK}">Runbook</a>' in html
    assert f'<a href="{SOURCE.replace("&", "&amp;")}">Source</a>' in html
    got = by_path(srv.wait(3))
    (slack,) = got["/api/chat.postMessage"]
    section = "\n".join(b["text"]["text"] for b in slack["blocks"]
                        if b["type"] == "section" and "text" in b)
    assert f"Runbook: {RUNBOOK}" in section and f"Source: {SOURCE}" in section
    header = slack["blocks"][0]["text"]["text"]
    assert header == "[TRIGGERED] INC-1 Down on checkout"
    assert slack["text"].count("INC-1") == 1 and "#1" not in slack["text"]
    (teams,) = got["/teams"]
    blocks = card(teams)["body"]
    assert blocks[0]["text"] == "[TRIGGERED] INC-1 Down on checkout"
    assert f"Runbook: {RUNBOOK}" in blocks[1]["text"]
    assert "#1" not in json.dumps(card(teams))
    (hook,) = got["/hook"]
    assert hook["title"] == "[TRIGGERED] INC-1 Down on checkout"
    assert hook["recipient"] is None  # routed: nobody in particular


def test_a_custom_template_sees_links_under_both_names(vigil: Harness) -> None:
    vigil.post_alertmanager(am(linked_alert()))
    (inc,) = incidents(vigil)
    shown = vigil.client.post("/api/v1/notification-templates/preview", headers=vigil.auth,
                              json={"incident_id": inc["id"], "kind": "slack", "title": "t",
                                    "body": "{% for l in links %}{{ l.text }}={{ l.href }} "
                                            "{{ l.title }}={{ l.url }};{% endfor %}"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["text"] == (f"Source={SOURCE} Source={SOURCE};"
                                    f"Runbook={RUNBOOK} Runbook={RUNBOOK};")


def test_a_resolved_notice_has_the_resolution_and_no_action_links(
        vigil: Harness, srv: RecordingServer, sink: SmtpSink) -> None:
    routed_everywhere(vigil, srv, sink)
    vigil.post_alertmanager(am(linked_alert()))
    assert run_once(vigil.ctx).counts["sent"] == 4
    first_text, _ = parts(sink.wait().message)
    assert "Acknowledge: http://127.0.0.1:8080/a/" in first_text  # while firing: links
    srv.wait(3)
    (inc,) = incidents(vigil)
    note = "Rolled back deploy 42"
    assert act(vigil, inc["id"], "resolve", note=note).status_code == 200
    assert run_once(vigil.ctx).counts["sent"] == 4
    text, html = parts(sink.wait().message)
    assert f"Resolution: {note}" in text and f"Resolution: {note}" in html
    for body in (text, html):
        assert "/a/" not in body and "Acknowledge" not in body and "Resolve:" not in body
    got = by_path(srv.wait(4))
    (reply,) = got["/api/chat.postMessage"]  # in the first message's thread
    (update,) = got["/api/chat.update"]
    for slack in (reply, update):
        assert "/a/" not in json.dumps(slack)
        assert "actions" not in [b["type"] for b in slack["blocks"]]
        assert any(note in b.get("text", {}).get("text", "") for b in slack["blocks"])
    (teams,) = got["/teams"]
    assert note in card(teams)["body"][1]["text"]
    assert [a["title"] for a in card(teams)["actions"]] == ["View incident"]
    assert "/a/" not in json.dumps(teams)
    (hook,) = got["/hook"]
    assert hook["event"] == "resolved" and hook["incident"]["resolution"] == note
    assert "/a/" not in json.dumps(hook)


def test_a_person_is_paged_at_their_own_webhook_url(vigil: Harness,
                                                   srv: RecordingServer) -> None:
    people(vigil)
    own = f"{srv.url}/people/alice"
    with vigil.ctx.db.write() as s:
        alice = s.scalars(select(User).where(User.username == "alice")).one()
        cm = ContactMethod(tenant_id=1, user_id=alice.id, type="webhook", address=own,
                           label="pager bridge", enabled=True, created_at=vigil.clock.now())
        s.add(cm)
        s.flush()
        s.add(NotificationRule(tenant_id=1, user_id=alice.id, contact_method_id=cm.id,
                               urgency="high", delay_minutes=0, created_at=vigil.clock.now()))
    channel(vigil, name="hooks", kind="webhook", personal=True,
            config={"url": f"{srv.url}/channel", "secret": "a-long-enough-secret"})
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "alice", "steps": [{"targets": [{"user": "alice"}]}]}).status_code == 201
    assert vigil.client.post("/api/v1/assignment-rules", headers=vigil.auth, json={
        "name": "all", "escalation_policy": "alice", "team": "x"}).status_code == 201
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    escalate(vigil)
    assert run_once(vigil.ctx).counts["sent"] == 1
    (req,) = srv.wait()
    assert req.path == "/people/alice"
    assert req.headers["x-vigil-signature"].startswith("v1=")  # the channel's secret
    assert req.json["recipient"] == "alice"
    assert req.json["incident"]["number"] == 1 and req.json["event"] == "triggered"
    log = vigil.client.get("/api/v1/deliveries", headers=vigil.auth,
                           params={"status": "sent"}).json()
    assert [(d["channel_kind"], d["address"], d["recipient"]) for d in log] == [
        ("webhook", own, "alice")]


def token_in(text: str, action: str) -> str:
    return text.split(f"{action}: http://127.0.0.1:8080/a/")[1].split()[0]


def test_a_signed_link_acknowledges_as_the_person_it_was_sent_to(
        vigil: Harness, sink: SmtpSink) -> None:
    email_channel(vigil, sink.port)
    iid = setup(vigil)
    escalate(vigil)
    run_once(vigil.ctx)
    text, _ = parts(sink.wait().message)
    token = token_in(text, "Acknowledge")
    page = vigil.client.get(f"/a/{token}")
    assert page.status_code == 200 and "as alice" in page.text
    # A token whose recipient is swapped for another person's is not valid.
    *head, who, mac = token.split(".")
    assert base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)) == b"alice"
    bob = base64.urlsafe_b64encode(b"bob").decode().rstrip("=")
    assert vigil.client.post(f"/a/{'.'.join([*head, bob, mac])}").status_code == 404
    assert vigil.client.post(f"/a/{token}").status_code == 200
    got = detail(vigil, iid)
    assert got["status"] == "acknowledged"
    acked = [t for t in got["timeline"] if t["kind"] == "acknowledged"]
    assert [(t["actor"], t["message"]) for t in acked] == [
        ("user:alice", "Acknowledged by user:alice")]
    escalate(vigil)
    view = vigil.client.get(f"/api/v1/incidents/{iid}/escalation", headers=vigil.auth).json()
    assert view["status"] == "acknowledged"
    assert "alice" in json.dumps(view)
    # A token signed before tokens named their recipient still works, as by "link".
    with vigil.ctx.db.read() as s:
        key = signing.existing_secret(s)
    assert key is not None
    old = links.sign(key, iid, "resolve", vigil.clock.now())
    assert len(old.split(".")) == 4
    assert vigil.client.post(f"/a/{old}").status_code == 200
    resolved = [t for t in detail(vigil, iid)["timeline"] if t["kind"] == "resolved"]
    assert [t["actor"] for t in resolved] == ["link"]


def test_tokens_carry_any_username_and_reject_tampering(vigil: Harness) -> None:
    now = vigil.clock.now()
    key = b"k" * 32
    token = links.sign(key, 7, "acknowledge", now, recipient="first.last-2")
    assert links.read(key, token, now) == links.Action(7, "acknowledge", "first.last-2")
    assert links.verify(key, token, now) == (7, "acknowledge")
    plain = links.sign(key, 7, "resolve", now)
    assert links.read(key, plain, now) == links.Action(7, "resolve", None)
    *head, _, mac = token.split(".")
    for forged in (".".join([*head, mac]), ".".join([*head, "", mac]), token + ".x"):
        with pytest.raises(Exception, match="not valid"):
            links.read(key, forged, now)
