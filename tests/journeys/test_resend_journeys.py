"""Journey 3: the same alert again. It fires again soon after it resolved (the incident
reopens and pages again); Alertmanager re-sends a firing notification many times (one
page); a late copy of an old firing notification arrives from an HA peer after the alert
resolved (nothing happens)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from journeys.alertmanager import AmAlert, sent_by_alertmanager
from journeys.harness import ONCALL_LIST, Journey
from journeys.peers import by_key, page_summary

pytestmark = pytest.mark.e2e

ONE_PAGE = {("alice", "email", "triggered"): 1, ("alice", "webhook", "triggered"): 1}


def _fire_and_page(j: Journey) -> AmAlert:
    alert = j.am.fire("CheckoutLatencyHigh", service="checkout",
                      summary="Checkout p99 latency is 2.4 s")
    (page,) = j.wait_received("alice's email page", via="email", to="alice")
    assert page.incident == 1 and page.event == "triggered", page
    j.wait_received("alice's webhook page", via="webhook", to="alice")
    return alert


def _notices(j: Journey) -> dict[str, list[str | None]]:
    """The events the team's channels announced for INC-1, per channel."""
    return {via: [r.event for r in j.received(via=via, incident=1)
                  if via != "email" or r.to == ONCALL_LIST]
            for via in ("slack", "teams", "email")}


def _seen(j: Journey, alert: AmAlert) -> dict[str, Any]:
    """What the team sees of the story, to compare with what it should see."""
    return {"incidents": [(i["number"], i["status"]) for i in j.api.incidents()],
            "alerts": sorted(a["status"] for a in j.api.alerts()
                             if a["labels"] == alert.labels),
            "pages": page_summary(j.received(to="alice") + j.received(to="bob")),
            "notices": _notices(j)}


def test_alert_firing_again_within_the_reopen_window_pages_again(journey: Journey) -> None:
    j = journey
    alert = _fire_and_page(j)
    j.am.resolve(alert)
    j.wait_incident(1, "resolved")
    j.wait_received("the resolved notice by email", via="email", to=ONCALL_LIST,
                    event="resolved")

    j.clock.advance(minutes=10)  # well within the 30-minute reopen window
    j.am.refire(alert)
    j.wait_incident(1, "firing")
    pages = j.wait_received("alice's second email page for the reopened INC-1", 2,
                            via="email", to="alice", incident=1)
    assert [p.event for p in pages] == ["triggered", "triggered"]
    assert all(p.subject.startswith("[TRIGGERED] INC-1") for p in pages), pages
    j.wait_received("alice's second webhook page for INC-1", 2, via="webhook", to="alice",
                    incident=1)
    j.wait_received("the notice that INC-1 triggered again", 2, via="email", to=ONCALL_LIST,
                    event="triggered")
    j.quiet()
    assert _seen(j, alert) == {
        "incidents": [(1, "firing")],
        "alerts": ["firing", "resolved"],  # the first firing, and this one
        "pages": {k: 2 for k in ONE_PAGE},
        "notices": {via: ["triggered", "resolved", "triggered"]
                    for via in ("slack", "teams", "email")},
    }, j.context()
    assert j.node.problems() == [], j.context()


def test_twenty_resends_of_a_firing_alert_page_once(journey: Journey) -> None:
    j = journey
    alert = _fire_and_page(j)
    sent = j.wait("Alertmanager's firing notification (the tap's copy)",
                  lambda: sent_by_alertmanager(j.peers.tap, alert, "firing"))
    first = {a["status"]: a["id"] for a in j.api.alerts() if a["labels"] == alert.labels}

    # Alertmanager (an HA pair, group re-sends) delivers the same notification 20 more
    # times over the next four minutes, before step 2 is due.
    for _ in range(4):
        j.clock.advance(minutes=1)
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: j.post_to_vigil(sent), range(5)))
        for resp in answers:
            assert resp.status_code == 202, resp.text
            assert [a["id"] for a in resp.json()["alerts"]] == [first["firing"]], resp.text
    j.quiet()
    assert _seen(j, alert) == {
        "incidents": [(1, "firing")], "alerts": ["firing"], "pages": ONE_PAGE,
        "notices": {via: ["triggered"] for via in ("slack", "teams", "email")},
    }, j.context()
    assert j.node.problems() == [], j.context()


def test_stale_ha_resend_after_the_alert_resolved_pages_nobody(journey: Journey) -> None:
    j = journey
    alert = _fire_and_page(j)
    stale = j.wait("Alertmanager's firing notification (the tap's copy)",
                   lambda: sent_by_alertmanager(j.peers.tap, alert, "firing"))
    j.am.resolve(alert)
    j.wait_incident(1, "resolved")
    j.wait_received("the resolved notice by email", via="email", to=ONCALL_LIST,
                    event="resolved")

    # The other Alertmanager of an HA pair delivers its (old) copy of the firing
    # notification late: same alert, same startsAt. It says nothing new.
    j.clock.advance(minutes=2)
    resp = j.post_to_vigil(stale)
    assert resp.status_code == 202, resp.text
    j.quiet()
    assert _seen(j, alert) == {
        "incidents": [(1, "resolved")], "alerts": ["resolved"], "pages": ONE_PAGE,
        "notices": {via: ["triggered", "resolved"] for via in ("slack", "teams", "email")},
    }, j.context()
    assert len(by_key(j.received(via="email", to=ONCALL_LIST))) == 2
    assert j.node.problems() == [], j.context()
