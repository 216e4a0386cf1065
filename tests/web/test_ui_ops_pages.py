"""The operations pages people watch (every page signed in or not, the dashboard and its
charts, alerts with one-click silences, on-call now and the calendar), rendered from real
data on both databases, signed in through ``/login``."""

from __future__ import annotations

import re

import pytest
from ui_ops_cases import PAGES, SCHEDULE, alert_id, api, elements, ingest

from conftest import Harness
from incident_api import alert
from ui_session import add_user, get, sign_in
from vigil.web.charts import Bar, bar_chart, duration


def matchers_of(html: str) -> list[dict[str, str]]:
    """The label checkboxes of #silence-form that are checked, as the JS sends them."""
    start = html.index('id="silence-form"')
    end = html.index("</form>", start)
    return [{"name": str(a["data-name"]), "op": "=", "value": str(a["data-value"])}
            for tag, a in elements(html[start - 10:end])
            if tag == "input" and "data-matcher" in a and "checked" in a]


def table_value(html: str, chart_id: str, label: str) -> str:
    """The value the hidden table of chart ``chart_id`` gives for ``label``."""
    start = html.index(f'id="{chart_id}"')
    end = html.index("</figure>", start)
    found = re.search(rf'<th scope="row">{re.escape(label)}</th><td>([^<]*)</td>',
                      html[start:end])
    assert found is not None, label
    return found.group(1)


@pytest.fixture
def admin(vigil: Harness) -> str:
    add_user(vigil, "root", "admin")
    return sign_in(vigil, "root")


# --- every page -----------------------------------------------------------------------------

def test_pages_need_sign_in(vigil: Harness) -> None:
    add_user(vigil, "root", "admin")
    for path in (*PAGES, "/ui/alerts/1", "/ui/oncall/1", "/ui/escalation-policies/1"):
        resp = vigil.client.get(path, follow_redirects=False)
        assert resp.status_code == 303, path
        assert resp.headers["location"] == f"/login?next={path}"


def test_every_page_renders_empty_and_with_data(vigil: Harness, admin: str) -> None:
    for path in PAGES:
        html = get(vigil, path)
        assert "<main" in html and "Sign out" in html
    ingest(vigil, alert("HighLatency", instance="a"), alert("DiskFull", service="db"))
    for name in ("alice", "bob", "carol"):
        add_user(vigil, name, password=False)
    api(vigil, "POST", "/api/v1/schedules", 201, json=SCHEDULE)
    api(vigil, "POST", "/api/v1/teams", 201, json={"name": "sre", "members": ["alice", "bob"]})
    for path in PAGES:
        assert "<main" in get(vigil, path)


def test_unknown_ids_are_404_pages(vigil: Harness, admin: str) -> None:
    assert "There is no alert 999" in get(vigil, "/ui/alerts/999", 404)
    assert "There is no schedule 999" in get(vigil, "/ui/oncall/999", 404)
    assert "no escalation policy 999" in get(vigil, "/ui/escalation-policies/999", 404)


# --- dashboard ------------------------------------------------------------------------------

def test_dashboard_counts_alerts_by_the_hour_they_were_first_received(
        vigil: Harness, admin: str) -> None:
    ingest(vigil, alert("HighLatency"), alert("DiskFull", service="db"))
    first_hour = vigil.clock.now().strftime("%H:00")
    vigil.clock.advance(hours=1)
    # A repeat of an open alert is an occurrence, not a new alert; a new name is one.
    ingest(vigil, alert("HighLatency"), alert("CpuHot", service="api"))
    html = get(vigil, "/ui")
    assert table_value(html, "chart-alerts-hourly", first_hour) == "2"
    assert table_value(html, "chart-alerts-hourly", vigil.clock.now().strftime("%H:00")) == "1"
    assert re.search(r'id="kpi-alerts"><a [^>]*>3</a>', html)


def test_dashboard_counts_and_charts(vigil: Harness, admin: str) -> None:
    ingest(vigil, alert("HighLatency", severity="critical"), alert("DiskFull", service="db"))
    ingest(vigil, alert("CpuHot", service="api", severity="warning"))
    incidents = api(vigil, "GET", "/api/v1/incidents", 200)["items"]
    assert len(incidents) == 3
    vigil.clock.advance(minutes=4)
    first = incidents[-1]["id"]
    api(vigil, "POST", f"/api/v1/incidents/{first}/acknowledge", 200)
    vigil.clock.advance(minutes=6)
    api(vigil, "POST", f"/api/v1/incidents/{first}/resolve", 200)

    html = get(vigil, "/ui")
    assert 'id="dashboard"' in html and html.count("<svg") == 4
    assert re.search(r'id="kpi-open"><a [^>]*>2</a>', html)
    assert re.search(r'id="kpi-alerts"><a [^>]*>3</a>', html)
    assert table_value(html, "chart-open-severity", "warning") == "2"
    assert table_value(html, "chart-open-severity", "critical") == "0"
    hour = vigil.clock.now().strftime("%H:00")
    assert table_value(html, "chart-alerts-hourly", hour) == "3"
    assert 'role="img"' in html and "<title id=\"chart-mtta-title\">" in html
    assert re.search(r'id="mtta-mean">4m</dd>', html)
    assert re.search(r'id="mttr-mean">10m</dd>', html)
    assert table_value(html, "chart-mtta", "critical") == "4m"

    vigil.clock.advance(minutes=10)  # the weekly figures follow every change at once
    api(vigil, "POST", f"/api/v1/incidents/{incidents[0]['id']}/acknowledge", 200)
    again = get(vigil, "/ui")
    assert re.search(r'id="mtta-mean">12m</dd>', again)  # (4 + 20) / 2
    assert re.search(r'id="kpi-acknowledged"[^>]*>1</dd>', again)


def test_charts_escape_and_describe() -> None:
    svg = bar_chart([Bar("<b>x</b>", 3), Bar("y", 1, css="sev-critical")], chart_id="c1",
                    title="T & <t>")
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "T &amp; &lt;t&gt;" in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert "highest: &lt;b&gt;x&lt;/b&gt; with 3" in svg and 'class="vh"' in svg
    assert "No data" in bar_chart([], chart_id="c2", title="Empty")
    assert [duration(x) for x in (None, 5, 93, 3600, 7260, 90000)] == [
        "—", "5s", "1m 33s", "1h", "2h 1m", "1d 1h"]


# --- alerts ---------------------------------------------------------------------------------

def test_alert_list_filters_and_pages(vigil: Harness, admin: str) -> None:
    ingest(vigil, *[alert("Load", instance=f"i{n}") for n in range(55)])
    ingest(vigil, alert("DiskFull", service="db", severity="critical"))
    html = get(vigil, "/ui/alerts")
    assert html.count('<tr id="alert-') == 50 and "Next page" in html
    nxt = re.search(r'href="(/ui/alerts\?cursor=[^"]+)" rel="next"', html)
    assert nxt is not None
    rest = get(vigil, nxt.group(1).replace("&amp;", "&"))
    assert rest.count('<tr id="alert-') == 6 and "Next page" not in rest
    only_db = get(vigil, "/ui/alerts", service="db")
    assert only_db.count('<tr id="alert-') == 1 and "DiskFull" in only_db
    assert get(vigil, "/ui/alerts", severity="critical").count('<tr id="alert-') == 1
    assert get(vigil, "/ui/alerts", q="diskf").count('<tr id="alert-') == 1
    assert get(vigil, "/ui/alerts", status="resolved").count('<tr id="alert-') == 0
    assert "not one this API gave out" in get(vigil, "/ui/alerts", cursor="bogus")


def test_alert_detail_and_one_click_silence(vigil: Harness, admin: str) -> None:
    ingest(vigil, alert("DiskFull", service="db", instance="db-1", cluster="eu"))
    aid = alert_id(vigil, "DiskFull")
    html = get(vigil, f"/ui/alerts/{aid}")
    assert 'id="silence-form"' in html and 'id="alert-events"' in html
    assert "DiskFull on db" in html and ">received<" not in html
    matchers = matchers_of(html)
    assert {m["name"]: m["value"] for m in matchers} == {
        "alertname": "DiskFull", "cluster": "eu", "instance": "db-1", "service": "db",
        "severity": "warning"}

    body = {"matchers": matchers, "duration_minutes": 120, "comment": "from the UI"}
    denied = vigil.client.post("/api/v1/silences", json=body)
    assert denied.status_code == 403  # the session cookie alone is not enough
    made = vigil.client.post("/api/v1/silences", json=body, headers={"X-CSRF-Token": admin})
    assert made.status_code == 201, made.text
    silence = made.json()
    assert silence["state"] == "active" and silence["created_by"] == "user:root"

    window = vigil.client.post("/api/v1/maintenance-windows", headers={"X-CSRF-Token": admin},
                               json={"name": "db work", "matchers": matchers,
                                     "duration_minutes": 60})
    assert window.status_code == 201, window.text

    ingest(vigil, alert("DiskFull", "resolved", service="db", instance="db-1", cluster="eu"))
    vigil.clock.advance(minutes=1)
    ingest(vigil, alert("DiskFull", service="db", instance="db-1", cluster="eu"))
    again = alert_id(vigil, "DiskFull")
    assert again != aid
    muted = get(vigil, f"/ui/alerts/{again}")
    assert 'id="suppressed-by"' in muted and f'href="/ui/silences#silence-{silence["id"]}"' in muted

    page = get(vigil, "/ui/silences")
    assert f'id="silence-{silence["id"]}" data-state="active"' in page
    assert 'service="db"' in page and "db work" in page
    assert f'data-url="/api/v1/silences/{silence["id"]}"' in page


def test_hostile_values_are_escaped(vigil: Harness, admin: str) -> None:
    evil = '<script>alert("x")</script>'
    payload = alert("Evil", service="web", note=evil, quote='"><img src=x onerror=alert(1)>')
    payload["annotations"]["description"] = evil
    payload["generatorURL"] = "javascript:alert(1)"
    ingest(vigil, payload)
    aid = alert_id(vigil, "Evil")
    for html in (get(vigil, f"/ui/alerts/{aid}"), get(vigil, "/ui/alerts")):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert 'href="javascript:' not in html
    detail = get(vigil, f"/ui/alerts/{aid}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail
    values = {m["name"]: m["value"] for m in matchers_of(detail)}
    assert values["note"] == evil and values["quote"] == '"><img src=x onerror=alert(1)>'


# --- on-call --------------------------------------------------------------------------------

def test_oncall_now_teams_and_calendar(vigil: Harness, admin: str) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        add_user(vigil, name, password=False)
    sid = api(vigil, "POST", "/api/v1/schedules", 201, json=SCHEDULE)["id"]
    api(vigil, "POST", "/api/v1/teams", 201, json={"name": "sre", "members": ["carol", "dave"]})

    html = get(vigil, "/ui/oncall")
    start = html.index('id="oncall-now"')
    now_table = html[start:html.index("</section>", start)]
    assert f'href="/ui/oncall/{sid}">primary' in now_table
    assert 'data-user="carol">Carol</strong>' in now_table  # Sunday 1 March 12:00 UTC
    assert "2026-03-02 09:00 UTC" in now_table
    assert ('Carol <span class="muted mono">carol</span> <span class="badge ok">on call</span>'
            in html)
    assert "Dave <span class=\"muted mono\">dave</span></li>" in html

    week = get(vigil, f"/ui/oncall/{sid}")
    assert 'id="calendar"' in week and 'id="override-form"' in week
    cal = week[week.index('id="calendar"'):week.index("</section>", week.index('id="calendar"'))]
    assert 'data-date="2026-02-23"' in cal and 'data-date="2026-03-01"' in cal
    assert re.search(r'data-date="2026-02-27".*?data-user="alice"[^>]*>Alice '
                     r'<span class="muted">09:00\u201324:00', cal, re.S)
    assert re.search(r'data-date="2026-02-28".*?data-user="bob"', cal, re.S)
    assert re.search(r'data-date="2026-03-01".*?data-user="carol"', cal, re.S)
    assert "gap 00:00\u201309:00" in cal  # before the rotation starts
    assert f"/api/v1/schedules/{sid}/shifts.ics?token=" in week

    month = get(vigil, f"/ui/oncall/{sid}", view="month", start="2026-03-10")
    assert "March 2026" in month and 'data-date="2026-03-31"' in month
    assert all(f'data-user="{u}"' in month for u in ("alice", "bob", "carol"))

    made = vigil.client.post(f"/api/v1/schedules/{sid}/overrides",
                             headers={"X-CSRF-Token": admin},
                             json={"type": "replace", "user": "dave", "replaces": "carol",
                                   "start": "2026-03-01T12:00:00.000Z",
                                   "end": "2026-03-01T20:00:00.000Z"})
    assert made.status_code == 201, made.text
    swap = vigil.client.post(f"/api/v1/schedules/{sid}/swaps", headers={"X-CSRF-Token": admin},
                             json={"requester": "alice", "counterpart": "bob",
                                   "start": "2026-03-05T09:00:00.000Z",
                                   "end": "2026-03-06T09:00:00.000Z"})
    assert swap.status_code == 201, swap.text
    after = get(vigil, f"/ui/oncall/{sid}")
    assert re.search(r'data-date="2026-03-01".*?data-user="dave"[^>]*>Dave '
                     r'<span class="muted">12:00\u201320:00', after, re.S)
    assert "instead of Carol" in after and 'id="swaps"' in after
    assert f'data-url="/api/v1/schedules/{sid}/overrides/0"' in after
