"""Journey 2: an incident resolves by itself as its alerts resolve through Alertmanager
(by its correlation rule's ``resolve_on``), the team is told, and the next incident, on
another service, pages as the first one did.

(The bug this guards against: the first incident that resolved by itself stopped every
later page for good.)"""

from __future__ import annotations

import pytest

from journeys.harness import ONCALL_LIST, Journey
from journeys.peers import page_summary

pytestmark = pytest.mark.e2e

#: resolve_on -> (the alert whose resolution must not resolve the incident, the one that
#: must): A opened the incident, B joined it last.
ORDER = {"all": ("A", "B"), "first": ("B", "A"), "last": ("A", "B")}


@pytest.mark.parametrize("resolve_on", ["all", "first", "last"])
def test_auto_resolved_incident_is_announced_and_the_next_one_pages(
        journey: Journey, resolve_on: str) -> None:
    j = journey
    j.api.create("/api/v1/correlation-rules", {
        "name": f"checkout as one ({resolve_on})", "condition": 'service == "checkout"',
        "group_by": ["service"], "resolve_on": resolve_on})
    alerts = {"A": j.am.fire("CheckoutLatencyHigh", service="checkout",
                             summary="Checkout p99 latency is 2.4 s")}
    (page,) = j.wait_received("alice's page for INC-1", via="email", to="alice")
    assert page.incident == 1 and page.event == "triggered", page
    alerts["B"] = j.am.fire("CheckoutErrorsHigh", service="checkout",
                            summary="Checkout answers 5% errors")
    j.wait_alert(alerts["B"], "firing")
    inc = j.api.call("GET", f"/api/v1/incidents/{j.incident_id(1)}")
    assert sorted(a["name"] for a in inc["alerts"]) == [
        "CheckoutErrorsHigh", "CheckoutLatencyHigh"], inc["alerts"]
    assert [i["number"] for i in j.api.incidents()] == [1]

    not_yet, resolves = ORDER[resolve_on]
    j.am.resolve(alerts[not_yet])
    j.wait_alert(alerts[not_yet], "resolved")
    assert j.api.incident(1)["status"] == "firing", (
        f"resolve_on {resolve_on}: alert {not_yet} alone must not resolve INC-1")
    j.am.resolve(alerts[resolves])
    j.wait_incident(1, "resolved")

    # The team is told on every channel of the routing rule.
    (mail,) = j.wait_received("the resolved notice by email", via="email", to=ONCALL_LIST,
                              event="resolved")
    assert mail.incident == 1 and mail.subject.startswith("[RESOLVED] INC-1"), mail.subject
    for via in ("slack", "teams"):
        (notice,) = j.wait_received(f"the resolved notice on {via}", via=via,
                                    event="resolved")
        assert notice.incident == 1, notice

    # Later, another service breaks: it pages alice like the first incident did.
    other = j.am.fire("PaymentsQueueBacklog", service="payments",
                      summary="Payments queue is 12 minutes behind")
    (second,) = j.wait_received("alice's email page for INC-2 (after INC-1 resolved itself)",
                                via="email", to="alice", incident=2)
    assert second.event == "triggered" and second.subject.startswith("[TRIGGERED] INC-2")
    assert other.name in second.text and "Payments queue is 12 minutes behind" in second.text
    j.wait_received("alice's webhook page for INC-2", via="webhook", to="alice", incident=2)
    j.wait_received("the triggered notice of INC-2 by email", via="email", to=ONCALL_LIST,
                    incident=2, event="triggered")
    j.quiet()
    assert page_summary(j.received(to="alice") + j.received(to="bob")) == {
        ("alice", "email", "triggered"): 2, ("alice", "webhook", "triggered"): 2,
    }, j.context()
    assert j.node.problems() == [], j.context()
