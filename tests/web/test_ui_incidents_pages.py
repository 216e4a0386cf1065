"""The incident pages: list (tabs, filters, pages, rows for live updates) and one incident
(alerts, timeline, actions by role, escaping, query counts), signed in through the real
login form, on both databases. Actions go through the JSON API with the session cookie and
CSRF header."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event
from ui_incident_cases import alert, am, api_incidents, by_title

from conftest import Harness
from ui_sign_in import add_user, sign_in
from vigil.web.pages import incidents as pages_incidents


def counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="incident"[^>]* data-id="(\d+)"', html)]


def three_incidents(h: Harness) -> dict[str, dict[str, Any]]:
    """Firing (critical, checkout), acknowledged (warning, db), resolved (high, search)."""
    h.post_alertmanager(am(alert("HighLatency", severity="critical", instance="a"),
                           alert("HighLatency", instance="b")))
    h.clock.advance(minutes=1)
    h.post_alertmanager(am(alert("DiskFull", service="db")))
    h.clock.advance(minutes=1)
    h.post_alertmanager(am(alert("SlowQueries", service="search", severity="high")))
    h.clock.advance(minutes=1)
    h.post_alertmanager(am(alert("SlowQueries", "resolved", service="search",
                                 severity="high")))
    incs = by_title(h)
    ack = h.client.post(f"/api/v1/incidents/{incs['DiskFull on db']['id']}/acknowledge",
                        headers=h.auth)
    assert ack.status_code == 200
    return by_title(h)


def test_pages_send_to_setup_then_to_login(vigil: Harness) -> None:
    for url in ("/ui/incidents", "/ui/incidents/1", "/ui/incidents/rows?ids=1"):
        resp = vigil.client.get(url, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"] == "/setup", url
    add_user(vigil, "alice", "responder")
    resp = vigil.client.get("/ui/incidents", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?next=/ui/incidents"
    assert vigil.client.get("/ui/incidents/7", follow_redirects=False).headers["location"] \
        == "/login?next=/ui/incidents/7"


def test_list_shows_ingested_incidents_with_tab_counts(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    sign_in(vigil)
    page = vigil.client.get("/ui/incidents")
    html = page.text
    assert counts(html) == {"open": 2, "firing": 1, "acknowledged": 1, "investigating": 0,
                            "resolved": 1, "closed": 0, "candidates": 0}
    latency, disk = incs["HighLatency on checkout"], incs["DiskFull on db"]
    assert row_ids(html) == [disk["id"], latency["id"]]  # Open, newest first
    assert 'id="incident-table"' in html and 'aria-current="page">Open' in html
    assert f'href="/ui/incidents/{latency["id"]}">INC-{latency["number"]}</a>' in html
    assert '<span class="badge severity sev-critical">critical</span>' in html
    assert '<span class="badge status st-acknowledged">acknowledged</span>' in html
    assert '<th scope="col">Title</th>' in html and 'class="opt services">checkout<' in html
    assert 'class="opt alerts">2<' in html  # from the incident's count: no alert query
    assert "<kbd>j</kbd>" in html and 'id="bulk-bar"' in html
    assert 'data-live="1"' in html  # the Open tab takes new incidents live

    resolved = vigil.client.get("/ui/incidents", params={"tab": "resolved"}).text
    assert row_ids(resolved) == [incs["SlowQueries on search"]["id"]]
    assert 'data-live="0"' in resolved
    firing = vigil.client.get("/ui/incidents", params={"tab": "firing"}).text
    assert row_ids(firing) == [latency["id"]]
    assert row_ids(vigil.client.get("/ui/incidents", params={"tab": "candidates"}).text) == []


def test_filters_sort_and_pages(vigil: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    incs = three_incidents(vigil)
    sign_in(vigil)
    latency, disk = incs["HighLatency on checkout"], incs["DiskFull on db"]

    def ids(**params: str) -> list[int]:
        resp = vigil.client.get("/ui/incidents", params=params)
        assert resp.status_code == 200, resp.text
        return row_ids(resp.text)

    assert ids(severity="critical") == [latency["id"]]
    assert ids(service="db") == [disk["id"]]
    assert ids(q="latency") == [latency["id"]]
    assert ids(q="nothing like it") == []
    assert ids(sort="created_at") == [latency["id"], disk["id"]]
    assert ids(tab="resolved", service="search") == [incs["SlowQueries on search"]["id"]]
    patch = vigil.client.patch(f"/api/v1/incidents/{disk['id']}", headers=vigil.auth,
                               json={"priority": "P1", "team": "dba", "assignee": "user:bob"})
    assert patch.status_code == 200
    assert ids(priority="P1") == [disk["id"]]
    assert ids(team="dba") == [disk["id"]] == ids(assignee="user:bob")
    filtered = vigil.client.get("/ui/incidents", params={"service": "db"}).text
    assert 'value="db"' in filtered and 'data-live="0"' in filtered
    assert 'id="clear-filters"' in filtered
    bad = vigil.client.get("/ui/incidents", params={"severity": "apocalyptic"})
    assert bad.status_code == 400 and 'id="list-error"' in bad.text
    assert counts(bad.text)["open"] == 2
    assert vigil.client.get("/ui/incidents", params={"cursor": "junk"}).status_code == 400

    monkeypatch.setattr(pages_incidents, "PAGE_SIZE", 1)
    first = vigil.client.get("/ui/incidents").text
    assert row_ids(first) == [disk["id"]]
    nxt = re.search(r'id="next-page" rel="next" href="([^"]+)"', first)
    assert nxt
    second = vigil.client.get(nxt.group(1).replace("&amp;", "&")).text
    assert row_ids(second) == [latency["id"]]
    assert 'id="first-page"' in second and 'id="next-page"' not in second


def test_rows_endpoint_renders_the_given_incidents(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    sign_in(vigil)
    a, b = incs["HighLatency on checkout"]["id"], incs["DiskFull on db"]["id"]
    resp = vigil.client.get(f"/ui/incidents/rows?ids={a},{b},999999")
    assert resp.status_code == 200
    assert row_ids(resp.text) == [b, a]
    assert "<html" not in resp.text and 'data-status="acknowledged"' in resp.text
    assert row_ids(vigil.client.get(f"/ui/incidents/rows?ids={a}&ids={b}").text) == [b, a]
    assert vigil.client.get("/ui/incidents/rows").text.strip() == ""
    assert vigil.client.get("/ui/incidents/rows?ids=x").status_code == 422


def test_lookup_by_number(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    sign_in(vigil)
    disk = incs["DiskFull on db"]
    found = vigil.client.get("/ui/incidents/lookup", params={"number": f"inc-{disk['number']}"})
    assert found.json() == {"id": disk["id"], "number": disk["number"]}
    assert vigil.client.get("/ui/incidents/lookup?number=404").status_code == 404
    assert vigil.client.get("/ui/incidents/lookup?number=abc").status_code == 422


def test_detail_shows_alerts_timeline_and_actions(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    sign_in(vigil)
    latency = incs["HighLatency on checkout"]
    html = vigil.client.get(f"/ui/incidents/{latency['id']}").text
    alerts = vigil.alerts()
    mine = [a for a in alerts if a["name"] == "HighLatency"]
    assert len(mine) == 2
    for a in mine:
        assert f'<a href="/ui/alerts/{a["id"]}">HighLatency</a>' in html
        assert f'class="split-pick" value="{a["id"]}"' in html
    assert '<span class="chip mono">instance=a</span>' in html
    assert 'href="https://prometheus.example/graph?g0.expr=up"' in html
    assert f'<span class="mono ref">INC-{latency["number"]}</span>' in html
    assert '<ul id="timeline"' in html
    kinds = re.findall(r'<li class="k-\w+" data-kind="(\w+)"', html)
    assert kinds == ["created", "alert_added"]
    for action in ("acknowledge", "investigate", "resolve", "assign-me", "noise", "assign",
                   "merge", "split", "comment", "link", "reassign"):
        assert f'data-action="{action}"' in html, action
    assert 'data-action="reopen"' not in html and 'data-action="confirm"' not in html
    # No policy, so no escalation to hurry: the panel says so; "Reassign" can start one.
    assert 'data-action="escalate"' not in html
    assert 'id="fact-escalation">—<' in html and 'id="esc-status" class="badge esc-none"' in html
    assert "none: nobody will be paged" in html and 'id="esc-pages"' not in html
    assert 'id="set-severity"' in html and '<label for="comment-text">' in html
    assert '<th scope="col">Alert</th>' in html

    resolved = vigil.client.get(f"/ui/incidents/{incs['SlowQueries on search']['id']}").text
    assert 'data-action="reopen"' in resolved and 'data-action="close"' in resolved
    assert 'data-action="acknowledge"' not in resolved
    assert 'id="fact-ttr">1m 0s<' in resolved  # created at 12:02, resolved at 12:03
    assert vigil.client.get("/ui/incidents/999999").status_code == 404


def test_viewer_sees_no_actions_and_the_api_forbids_them(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    csrf = sign_in(vigil, "victor", "viewer")
    iid = incs["HighLatency on checkout"]["id"]
    listing = vigil.client.get("/ui/incidents").text
    assert 'id="bulk-bar"' not in listing and 'class="pick"' not in listing
    assert row_ids(listing)  # but they see the incidents
    html = vigil.client.get(f"/ui/incidents/{iid}").text
    assert "data-action=" not in html and 'id="incident-actions"' not in html
    assert 'id="comment-form"' not in html and '<ul id="timeline"' in html
    resp = vigil.client.post(f"/api/v1/incidents/{iid}/acknowledge",
                             headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 403, resp.text
    bulk = vigil.client.post("/api/v1/incidents/bulk", headers={"X-CSRF-Token": csrf},
                             json={"ids": [iid], "action": "acknowledge"})
    assert bulk.status_code == 403
    assert vigil.client.get("/api/v1/incidents/counts").json()["firing"] == 1


def test_responder_acts_with_the_session_and_csrf_header(vigil: Harness) -> None:
    incs = three_incidents(vigil)
    csrf = sign_in(vigil, "alice", "responder")
    iid = incs["HighLatency on checkout"]["id"]
    url = f"/api/v1/incidents/{iid}/acknowledge"
    assert vigil.client.post(url).status_code == 403  # the cookie alone is not enough
    assert vigil.client.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    resp = vigil.client.post(url, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "acknowledged"
    assert resp.json()["timeline"][-1]["actor"] == "user:alice"

    html = vigil.client.get(f"/ui/incidents/{iid}").text
    assert '<span class="actor mono">user:alice</span>' in html
    assert "Acknowledged by user:alice" in html
    assert '<span class="badge status st-acknowledged">acknowledged</span>' in html
    assert re.search(r'id="fact-tta">\d+m \d+s<', html)

    comment = vigil.client.post(f"/api/v1/incidents/{iid}/comments",
                                headers={"X-CSRF-Token": csrf}, json={"text": "looking"})
    assert comment.status_code == 201
    bulk = vigil.client.post("/api/v1/incidents/bulk", headers={"X-CSRF-Token": csrf},
                             json={"ids": [iid], "action": "assign"})
    assert bulk.status_code == 200 and bulk.json()[0]["assignee"] == "user:alice"
    row = vigil.client.get(f"/ui/incidents/rows?ids={iid}").text
    assert 'class="opt assignee">user:alice<' in row and 'data-status="acknowledged"' in row


def test_html_is_escaped(vigil: Harness) -> None:
    evil = "<script>alert(1)</script>"
    vigil.post_alertmanager(am(alert("Evil", summary=evil, note=evil)))
    sign_in(vigil)
    (inc,) = api_incidents(vigil)
    assert inc["title"] == evil
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    iid = inc["id"]
    for url in ("/ui/incidents", f"/ui/incidents/{iid}", f"/ui/incidents/rows?ids={iid}"):
        html = vigil.client.get(url).text
        assert evil not in html, url
        assert escaped in html, url


def test_list_reads_incidents_only_with_two_queries(vigil: Harness) -> None:
    three_incidents(vigil)
    sign_in(vigil)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = vigil.ctx.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert vigil.client.get("/ui/incidents").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    on_incidents = [s for s in statements if re.search(r"\bFROM incidents\b", s)]
    assert not [s for s in statements if re.search(r"\bFROM alerts\b", s)]
    # list_incidents, then counts_by_status (its status counts and its candidate count)
    assert len(on_incidents) == 3, on_incidents


def test_a_large_incident_pages_its_alerts_and_timeline(
        vigil: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_incidents, "ALERTS_SHOWN", 2)
    monkeypatch.setattr(pages_incidents, "TIMELINE_SHOWN", 3)
    vigil.post_alertmanager(am(*(alert("DiskFull", instance=f"n{i}") for i in range(5))))
    (inc,) = api_incidents(vigil)
    csrf = sign_in(vigil)
    for text in ("one", "two", "three", "four"):
        resp = vigil.client.post(f"/api/v1/incidents/{inc['id']}/comments",
                                 headers={"X-CSRF-Token": csrf}, json={"text": text})
        assert resp.status_code == 201, resp.text
    alert_ids = sorted((a["id"] for a in vigil.alerts()), reverse=True)
    assert len(alert_ids) == 5
    timeline = vigil.client.get(f"/api/v1/incidents/{inc['id']}", headers=vigil.auth).json()[
        "timeline"]
    entry_ids = [t["id"] for t in timeline]
    assert len(entry_ids) >= 6  # created, alerts joined, four comments

    def shown(html: str) -> tuple[list[int], list[int]]:
        return ([int(i) for i in re.findall(r'<tr class="alert" data-id="(\d+)"', html)],
                [int(i) for i in re.findall(r'<li class="k-\w+" data-kind="\w+" '
                                            r'data-id="(\d+)"', html)])

    url = f"/ui/incidents/{inc['id']}"
    html = vigil.client.get(url).text
    alerts, entries = shown(html)
    assert alerts == alert_ids[:2]  # newest first
    assert entries == entry_ids[-3:]  # the newest, oldest first
    assert "Newest alerts" not in html and "Latest entries" not in html
    older = re.search(r'href="([^"]+)" id="alerts-older"', html)
    earlier = re.search(r'href="([^"]+)" id="timeline-earlier"', html)
    assert older and earlier

    html = vigil.client.get(older.group(1).replace("&amp;", "&")).text
    assert shown(html)[0] == alert_ids[2:4] and "Newest alerts" in html
    last = re.search(r'href="([^"]+)" id="alerts-older"', html)
    assert last
    html = vigil.client.get(last.group(1)).text
    assert shown(html)[0] == alert_ids[4:] and 'id="alerts-older"' not in html

    seen: list[int] = entries
    url_next: str | None = earlier.group(1)
    while url_next:
        html = vigil.client.get(url_next).text
        page_entries = shown(html)[1]
        assert page_entries and len(page_entries) <= 3 and "Latest entries" in html
        seen = page_entries + seen
        found = re.search(r'href="([^"]+)" id="timeline-earlier"', html)
        url_next = found.group(1) if found else None
    assert seen == entry_ids  # every entry once, in order
    assert vigil.client.get(f"{url}?timeline_before=0").status_code == 422
