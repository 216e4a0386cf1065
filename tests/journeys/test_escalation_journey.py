"""Journey 1: an alert fires and nobody answers; the policy escalates; the person paged
first acknowledges from the link in the email; then nobody is paged any more."""

from __future__ import annotations

import pytest

from journeys.harness import ONCALL_LIST, STEP2_DELAY, Journey
from journeys.peers import page_summary

pytestmark = pytest.mark.e2e


def test_unanswered_page_escalates_and_the_emailed_link_acknowledges(
        journey: Journey) -> None:
    j = journey
    alert = j.am.fire("CheckoutLatencyHigh", service="checkout", env="prod",
                      summary="Checkout p99 latency is 2.4 s")

    # Step 1: whoever is on call on "primary" (alice), by email and by webhook at once.
    (email,) = j.wait_received("alice's email page (step 1)", via="email", to="alice")
    (hook,) = j.wait_received("alice's webhook page (step 1)", via="webhook", to="alice")
    assert email.event == "triggered" and email.incident == 1, email
    assert email.subject.startswith("[TRIGGERED] INC-1"), email.subject
    assert "Checkout p99 latency is 2.4 s" in email.subject
    assert alert.name in email.text and "checkout" in email.text
    body = hook.text
    assert hook.event == "triggered" and hook.incident == 1, body
    assert "INC-1" in hook.subject and "Checkout p99 latency is 2.4 s" in hook.subject
    # The team hears about it on Slack, Teams and the on-call list.
    for via in ("slack", "teams", "email"):
        to = ONCALL_LIST if via == "email" else via
        (notice,) = j.wait_received(f"the triggered notice on {via}", via=via, to=to)
        assert notice.incident == 1 and notice.event == "triggered", notice
    j.quiet()
    assert j.received(to="bob") == [], "bob is step 2: not paged before its delay"

    # Nobody acknowledges: 5 minutes later step 2 pages bob; the second pass over the
    # policy (repeat: 1) starts with step 1 again at the same moment, paging alice again.
    j.clock.advance(seconds=STEP2_DELAY.total_seconds() + 60)
    j.wait_received("bob's email page (step 2)", via="email", to="bob")
    j.wait_received("bob's webhook page (step 2)", via="webhook", to="bob")
    j.wait_received("alice's repeated email page", 2, via="email", to="alice")
    j.wait_received("alice's repeated webhook page", 2, via="webhook", to="alice")
    (bob_mail,) = j.received(via="email", to="bob")
    assert bob_mail.event == "escalated" and bob_mail.incident == 1, bob_mail
    assert "INC-1" in bob_mail.subject, bob_mail.subject

    # alice opens the Acknowledge link of her first email (GET shows a button, POST acts).
    done = j.open_link(email, "acknowledge")
    assert "INC-1" in done and "acknowledged" in done, done
    j.wait_incident(1, "acknowledged")
    for via in ("slack", "teams", "email"):
        to = ONCALL_LIST if via == "email" else via
        j.wait_received(f"the acknowledged notice on {via}", via=via, to=to,
                        event="acknowledged")

    # Past the rest of the policy (step 2 of the repeat was due 5 minutes after the first
    # pass) and an hour more: nobody is paged again.
    j.clock.advance(minutes=75)
    j.quiet()
    assert page_summary(j.received(to="alice") + j.received(to="bob")) == {
        ("alice", "email", "triggered"): 1, ("alice", "webhook", "triggered"): 1,
        ("alice", "email", "escalated"): 1, ("alice", "webhook", "escalated"): 1,
        ("bob", "email", "escalated"): 1, ("bob", "webhook", "escalated"): 1,
    }, j.context()
    assert j.api.escalation(j.incident_id(1))["status"] == "acknowledged"
    assert j.node.problems() == [], j.context()
