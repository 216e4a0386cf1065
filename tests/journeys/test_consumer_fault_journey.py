"""Journey 5: an outbox event that Vigil's consumers cannot handle (the shape the bug of
December 2026 wrote: ``previous`` as a string) lands in the outbox. Paging goes on for
everything else; /health says so once the event is a minute old; after its retries it is
set aside, the team is told by a VigilConsumerFailed incident on Slack, /health is green
again, and once fixed the event is replayed and handled."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from journeys.harness import Journey
from vigil.db import Database
from vigil.outbox.models import OutboxEvent

pytestmark = pytest.mark.e2e


def failures(j: Journey) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = j.api.call("GET", "/api/v1/outbox/failures")
    return found


def test_an_event_no_consumer_can_handle_is_announced_and_stops_nothing(
        journey: Journey) -> None:
    j = journey
    j.am.fire("CheckoutLatencyHigh", service="checkout", summary="Checkout p99 is 2.4 s")
    j.wait_received("alice's page for INC-1", via="email", to="alice")
    inc1 = j.incident_id(1)

    broken = {"incident_id": inc1, "number": 1, "status": "resolved", "severity": "critical",
              "title": "x", "previous": "firing", "actor": "system", "kind": "resolved"}
    db = Database(j.node.db_url)
    try:
        with db.write() as s:
            ev = OutboxEvent(tenant_id=1, topic="incident.status_changed",
                             aggregate=f"incident:{inc1}", payload=broken,
                             created_at=j.clock.now(), available_at=j.clock.now(), attempts=0)
            s.add(ev)
            s.flush()
            bad = ev.id

        # Both consumers fail on it; everything behind it still pages.
        j.wait("both consumers to fail on the event once", lambda: len(
            [f for f in failures(j) if f["event_id"] == bad and f["attempts"] >= 1]) == 2
            or None)
        j.am.fire("PaymentsDown", service="payments", summary="Payments answer 503")
        (page,) = j.wait_received("alice's page for INC-2", via="email", to="alice",
                                  incident=2)
        assert page.event == "triggered" and "Payments answer 503" in page.subject, page
        assert httpx.get(f"{j.node.url}/health").status_code == 200

        # Retried after 5, 10 and 20 s; 65 s after it was written, /health is red.
        for attempts, wait in ((2, 6), (3, 11), (4, 21)):
            j.clock.advance(seconds=wait)
            j.wait(f"attempt {attempts}", lambda n=attempts: all(
                f["attempts"] >= n for f in failures(j)) or None)
        j.clock.advance(seconds=30)
        def red() -> httpx.Response | None:
            answer = httpx.get(f"{j.node.url}/health")
            return answer if answer.status_code == 503 else None

        health = j.wait("/health to turn 503", red)
        reasons = health.json()["reasons"]
        assert any("consumer is" in r and "behind" in r for r in reasons), reasons

        # Its last attempt fails: set aside, announced, and /health is green again.
        j.clock.advance(seconds=45)
        j.wait("the event to be parked by both consumers", lambda: len(
            [f for f in failures(j) if f["state"] == "parked"]) == 2 or None)
        (notice,) = j.wait_received("the VigilConsumerFailed incident on Slack", via="slack",
                                    event="triggered", incident=3)
        assert "VigilConsumerFailed" in notice.text or "set aside" in notice.text, notice.text
        j.wait("/health to be ok again", lambda: httpx.get(
            f"{j.node.url}/health").status_code == 200 or None)
        timeline = j.api.call("GET", f"/api/v1/incidents/{inc1}")["timeline"]
        assert any(t["kind"] == "consumer_failed" for t in timeline), timeline

        # Fixed (here: the event itself), replayed, handled: nothing is left failing.
        with db.write() as s:
            s.execute(update(OutboxEvent).where(OutboxEvent.id == bad).values(
                payload={**broken, "previous": {"status": "firing"}}))
        assert j.api.call("POST", "/api/v1/outbox/failures/replay",
                          json={"all": True}) == {"replayed": 2}
        j.wait("the replayed event to be handled", lambda: failures(j) == [] or None)
    finally:
        db.dispose()
    assert j.node.problems() == [], j.context()
