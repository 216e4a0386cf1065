"""Journey 4: Vigil is killed (SIGKILL) in the middle of an escalation, as the first pages
have gone out but before it recorded them as sent (the webhook receiver holds its answer),
and started again on the same database while step 2 falls due. The journey completes as
if nothing happened: no page lost, and none doubled once deduplicated by its delivery key
(the email's Message-ID and X-Vigil-Key, the webhook's X-Vigil-Key), as the docs promise
for a crash between sending and recording."""

from __future__ import annotations

import threading

import pytest

from journeys.harness import ONCALL_LIST, STEP2_DELAY, Journey
from journeys.peers import HeldReply, by_key, page_summary

pytestmark = pytest.mark.e2e


def test_kill_9_mid_escalation_loses_and_doubles_no_page(journey: Journey) -> None:
    j = journey
    answer = threading.Event()
    j.peers.hooks.queue(HeldReply(answer))  # alice's webhook page arrives; its answer waits
    j.am.fire("CheckoutLatencyHigh", service="checkout", summary="Checkout p99 latency is 2.4 s")
    (email,) = j.wait_received("alice's email page (step 1)", via="email", to="alice")
    j.wait_received("alice's webhook page (step 1)", via="webhook", to="alice")
    # The pass that sent them waits for the webhook's answer: nothing is recorded as sent.
    j.node.kill9()
    answer.set()

    # Step 2 falls due while Vigil is down (and the lease of any send under way runs out).
    j.clock.advance(seconds=STEP2_DELAY.total_seconds() + 60)
    j.node.restart()
    j.wait_received("bob's email page (step 2) after the restart", via="email", to="bob")
    j.wait_received("bob's webhook page (step 2) after the restart", via="webhook", to="bob")
    j.wait_received("alice's repeated email page", 2, via="email", to="alice")
    j.wait_received("alice's repeated webhook page", 2, via="webhook", to="alice")

    done = j.open_link(email, "acknowledge")  # a link sent before the crash still works
    assert "acknowledged" in done, done
    j.wait_incident(1, "acknowledged")
    j.wait_received("the acknowledged notice by email", via="email", to=ONCALL_LIST,
                    event="acknowledged")
    j.clock.advance(minutes=75)
    j.quiet()

    pages = j.received(to="alice") + j.received(to="bob")
    assert page_summary(pages) == {
        ("alice", "email", "triggered"): 1, ("alice", "webhook", "triggered"): 1,
        ("alice", "email", "escalated"): 1, ("alice", "webhook", "escalated"): 1,
        ("bob", "email", "escalated"): 1, ("bob", "webhook", "escalated"): 1,
    }, j.context()
    # Notices by email carry keys too: each event once, once deduplicated.
    assert sorted(m[0].event or "" for m in by_key(
        j.received(via="email", to=ONCALL_LIST)).values()) == ["acknowledged", "triggered"]
    # Chat messages carry no key: each at least once.
    for via in ("slack", "teams"):
        assert {r.event for r in j.received(via=via)} == {"triggered", "acknowledged"}, via
    assert [i["status"] for i in j.api.incidents()] == ["acknowledged"]
    assert j.node.problems() == [], j.context()
