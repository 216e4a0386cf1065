"""Pages to people end to end on both databases: an escalation's page reaches the inbox
once (aiosmtpd on 127.0.0.1) and its signed link acknowledges without signing in;
acknowledging cancels pages not yet sent, a reopened incident or an acknowledgement that
times out pages again; handoff notices and the weekly summary of shifts; SMS replies
signed by Twilio acknowledge."""

from __future__ import annotations

from delivery_rows import deliveries
from sqlalchemy import select

from channel_sinks import Sink, channel, email_channel
from conftest import Harness
from incident_api import act, alert, am, detail, incidents
from paging import escalate, setup
from vigil.worker.notifier import run_once
from vigil.worker.tick import tick


def test_a_page_reaches_the_inbox_once_and_its_link_acknowledges(
        vigil: Harness, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    email_channel(vigil, port)
    iid = setup(vigil)
    escalate(vigil)
    done = run_once(vigil.ctx).counts
    assert done["sent"] == 1
    (mail,) = sink.messages
    assert mail["Subject"].startswith("[TRIGGERED] INC-1 ")
    assert mail["To"] == "alice@ex.com"
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    assert "Acknowledge: http://127.0.0.1:8080/a/" in body
    # The SMS (after 2 minutes) has no personal SMS channel: dead, on the timeline.
    by_channel = {d.channel_kind: d for d in deliveries(vigil)}
    assert by_channel["email"].status == "sent"
    assert by_channel["sms"].status == "dead"
    assert "no personal sms channel" in (by_channel["sms"].last_error or "")
    kinds = [t["kind"] for t in detail(vigil, iid)["timeline"]]
    assert "notified" in kinds and "notify_failed" in kinds
    # Nothing twice: another pass sends nothing.
    assert run_once(vigil.ctx).counts["sent"] == 0 and len(sink.messages) == 1
    # The signed link works without an API key: a GET shows a page, the POST acts.
    token = body.split("Acknowledge: http://127.0.0.1:8080/a/")[1].split()[0]
    page = vigil.client.get(f"/a/{token}")
    assert page.status_code == 200 and "Acknowledge INC-1" in page.text
    assert vigil.client.post(f"/a/{token}").status_code == 200
    assert detail(vigil, iid)["status"] == "acknowledged"
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert vigil.client.get(f"/a/{tampered}").status_code == 404
    vigil.clock.advance(hours=25)
    assert vigil.client.post(f"/a/{token}").status_code == 404  # expired


def test_acknowledging_cancels_pages_not_yet_sent(vigil: Harness,
                                                  smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    email_channel(vigil, port)
    iid = setup(vigil)
    escalate(vigil)
    act(vigil, iid, "acknowledge")
    run_once(vigil.ctx)
    assert sink.messages == []
    assert {d.status for d in deliveries(vigil) if d.channel_kind == "email"} == {"cancelled"}


def test_a_reopened_incident_pages_again(vigil: Harness, smtp: tuple[Sink, int]) -> None:
    """Each firing episode is a new round of escalation: its pages have keys of their own
    and are not taken for the first episode's (they were dropped as duplicates)."""
    sink, port = smtp
    email_channel(vigil, port)
    iid = setup(vigil)
    escalate(vigil)
    assert run_once(vigil.ctx).counts["sent"] == 1
    act(vigil, iid, "resolve")
    escalate(vigil)
    vigil.clock.advance(minutes=1)
    assert act(vigil, iid, "reopen").status_code == 200
    assert escalate(vigil)["escalations_started"] == 1
    assert run_once(vigil.ctx).counts["sent"] == 1
    assert [m["To"] for m in sink.messages] == ["alice@ex.com", "alice@ex.com"]


def test_handoff_notices_reach_both_people_once(vigil: Harness,
                                                smtp: tuple[Sink, int]) -> None:
    from datetime import UTC, datetime

    from paging import people
    from vigil.oncall.models import ContactMethod, NotificationRule

    sink, port = smtp
    email_channel(vigil, port)
    people(vigil)
    with vigil.ctx.db.write() as s:
        for cm in s.scalars(select(ContactMethod).where(ContactMethod.type == "email")):
            s.add(NotificationRule(tenant_id=1, user_id=cm.user_id, contact_method_id=cm.id,
                                   urgency="low", delay_minutes=0,
                                   created_at=vigil.clock.now()))
    assert tick(vigil.ctx).counts["handoff_notices"] == 0  # starts watching now
    vigil.clock.set(datetime(2026, 3, 2, 8, 30, tzinfo=UTC))
    assert tick(vigil.ctx).counts["handoff_notices"] == 0
    vigil.clock.set(datetime(2026, 3, 2, 9, 5, tzinfo=UTC))  # weekly handoff alice -> bob
    assert tick(vigil.ctx).counts["handoff_notices"] == 2
    assert tick(vigil.ctx).counts["handoff_notices"] == 0
    run_once(vigil.ctx)
    got = sorted((m["To"], m["Subject"]) for m in sink.messages)
    assert got == [("alice@ex.com", "On call: primary ends"),
                   ("bob@ex.com", "On call: primary starts")]


def test_sms_reply_acknowledges_when_signed_by_twilio(vigil: Harness) -> None:
    from twilio.request_validator import RequestValidator

    from paging import people

    people(vigil)
    token = "twilio-auth-token-123"
    channel(vigil, name="twilio", kind="sms", personal=True, config={
        "account_sid": "AC" + "0" * 32, "auth_token": token, "from_number": "+15005550006"})
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    (inc,) = incidents(vigil)
    url = "http://127.0.0.1:8080/api/v1/twilio/sms"
    form = {"From": "+4915112345678", "Body": f"{inc['number']}a", "MessageSid": "SM1"}
    signature = RequestValidator(token).compute_signature(url, form)
    forged = vigil.client.post("/api/v1/twilio/sms", data=form,
                               headers={"X-Twilio-Signature": "nope"})
    assert forged.status_code == 403
    assert detail(vigil, inc["id"])["status"] == "firing"
    ok = vigil.client.post("/api/v1/twilio/sms", data=form,
                           headers={"X-Twilio-Signature": signature})
    assert ok.status_code == 200 and "INC-1 is acknowledged" in ok.text
    got = detail(vigil, inc["id"])
    assert got["status"] == "acknowledged"
    assert got["timeline"][-1]["actor"] == "user:alice"  # the first user with that number
    junk = dict(form, Body="hello")
    reply = vigil.client.post("/api/v1/twilio/sms", data=junk, headers={
        "X-Twilio-Signature": RequestValidator(token).compute_signature(url, junk)})
    assert "Reply with the incident number" in reply.text


def test_an_acknowledgement_that_times_out_pages_again(vigil: Harness,
                                                      smtp: tuple[Sink, int]) -> None:
    from paging import people

    sink, port = smtp
    email_channel(vigil, port)
    people(vigil)
    assert vigil.client.post("/api/v1/escalation-policies", headers=vigil.auth, json={
        "name": "alice", "ack_timeout_minutes": 10,
        "steps": [{"targets": [{"user": "alice"}]}]}).status_code == 201
    assert vigil.client.post("/api/v1/assignment-rules", headers=vigil.auth, json={
        "name": "all", "escalation_policy": "alice", "team": "x"}).status_code == 201
    vigil.post_alertmanager(am(alert("Down", severity="critical")))
    (inc,) = incidents(vigil)
    escalate(vigil)
    run_once(vigil.ctx)
    act(vigil, inc["id"], "acknowledge")
    escalate(vigil)
    vigil.clock.advance(minutes=11)  # still acknowledged, not resolved: page again
    assert escalate(vigil)["steps_fired"] == 1
    run_once(vigil.ctx)
    assert [m["To"] for m in sink.messages] == ["alice@ex.com", "alice@ex.com"]


def test_a_weekly_summary_of_shifts_goes_out_on_monday(vigil: Harness,
                                                      smtp: tuple[Sink, int]) -> None:
    from datetime import UTC, datetime

    from paging import people
    from vigil.oncall.models import ContactMethod, NotificationRule

    sink, port = smtp
    email_channel(vigil, port)
    people(vigil)
    with vigil.ctx.db.write() as s:
        for cm in s.scalars(select(ContactMethod).where(ContactMethod.type == "email")):
            s.add(NotificationRule(tenant_id=1, user_id=cm.user_id, contact_method_id=cm.id,
                                   urgency="low", delay_minutes=0,
                                   created_at=vigil.clock.now()))
    vigil.clock.set(datetime(2026, 3, 1, 23, 50, tzinfo=UTC))  # Sunday night
    tick(vigil.ctx)
    vigil.clock.set(datetime(2026, 3, 2, 0, 10, tzinfo=UTC))  # Monday
    assert tick(vigil.ctx).counts["handoff_notices"] == 2  # alice and bob have shifts this week
    vigil.clock.set(datetime(2026, 3, 2, 0, 20, tzinfo=UTC))
    assert tick(vigil.ctx).counts["handoff_notices"] == 0
    run_once(vigil.ctx)
    by_to = {m["To"]: m for m in sink.messages}
    assert set(by_to) == {"alice@ex.com", "bob@ex.com"}
    part = next(p for p in by_to["bob@ex.com"].walk()
                if p.get_content_type() == "text/plain")
    body = part.get_payload(decode=True).decode()
    assert "primary: Mon 02 Mar 09:00 - Mon 09 Mar 00:00 UTC" in body  # to the week's end
