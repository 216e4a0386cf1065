"""The live app the API fuzzer (test_api_fuzz.py) runs against, and the real objects it is
seeded with, so that generated ids sometimes name existing rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

#: Objects created through the API, by name: a second seeding re-creates only what a
#: fuzzed delete removed (409: it is still there).
OBJECTS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/teams", {"name": "sre", "members": ["alice", "bob"]}),
    ("/api/v1/services", {"name": "checkout", "team": "sre"}),
    ("/api/v1/schedules", {"name": "primary", "time_zone": "UTC", "layers": [
        {"name": "daily", "rotation": {"type": "daily", "start": "2026-02-27T09:00",
                                       "participants": ["alice", "bob", "carol"]}}]}),
    ("/api/v1/escalation-policies", {"name": "sre", "steps": [
        {"targets": [{"schedule": "primary"}]},
        {"delay_minutes": 10, "targets": [{"user": "carol"}]}]}),
    ("/api/v1/maintenance-windows", {"name": "patching", "matchers": ['service="db"'],
                                     "schedule": {"cron": "0 13 * * 0",
                                                  "timezone": "Europe/Berlin"},
                                     "duration_minutes": 60}),
    ("/api/v1/inhibition-rules", {"name": "cluster down",
                                  "source_matchers": ["alertname=ClusterDown"],
                                  "target_matchers": ["severity=warning"],
                                  "equal": ["cluster"]}),
    ("/api/v1/correlation-rules", {"name": "prod", "condition": 'labels.env == "prod"',
                                   "group_by": ["labels.cluster"]}),
    ("/api/v1/assignment-rules", {"name": "critical", "severities": ["critical"],
                                  "escalation_policy": "sre"}),
    ("/api/v1/severity-rules", {"name": "warning becomes high", "from_severity": "warning",
                                "to_severity": "high", "after_minutes": 15}),
    ("/api/v1/channels", {"name": "hook", "kind": "webhook",
                          "config": {"url": "http://127.0.0.1:9/hook"}}),
    ("/api/v1/routing-rules", {"name": "critical", "severities": ["critical"],
                               "channels": ["hook"]}),
]
USERS = ("alice", "bob", "carol")
SOURCES = ("alertmanager", "grafana", "generic", "pagerduty", "opsgenie")


@dataclass
class Live:
    url: str
    session: requests.Session
    admin: dict[str, str]
    viewer: dict[str, str]
    #: The ids of the fuzzer's own API keys, which it must not revoke.
    own_keys: set[int]
    #: An integration key of each type.
    keys: dict[str, str] = field(default_factory=dict)
    #: The ids listed under a collection URL, looked up once per operation.
    pools: dict[str, list[int]] = field(default_factory=dict)
    #: operation -> status -> how many answers (the admin pass).
    answers: dict[str, Counter[int]] = field(default_factory=dict)
    #: The writes a viewer's key got a 2xx for.
    viewer_writes: set[str] = field(default_factory=set)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.session.post(self.url + path, json=body, headers=self.admin, timeout=60)
        assert resp.status_code in (201, 409), (path, resp.text)
        return resp.json() if resp.status_code == 201 else None

    def ids_under(self, route: str, param: str, path: dict[str, Any]) -> list[int]:
        """The ids the collection holding ``{param}`` of ``route`` lists now: for
        ``/api/v1/users/{user_id}/contact-methods/{cm_id}`` and ``cm_id``, those of
        ``/api/v1/users/<user_id>/contact-methods``. Empty where there is no such list."""
        prefix = route.split("{" + param + "}")[0].rstrip("/")
        if prefix.endswith("/links"):  # another incident
            prefix = "/api/v1/incidents"
        try:
            collection = prefix.format(**path)
        except (KeyError, IndexError, ValueError):
            return []
        if collection not in self.pools:
            resp = self.session.get(self.url + collection, headers=self.admin, timeout=60)
            body = resp.json() if resp.status_code == 200 else []
            items = body.get("items", []) if isinstance(body, dict) else body
            ids = [item["id"] for item in items
                   if isinstance(item, dict) and isinstance(item.get("id"), int)]
            if collection == "/api/v1/api-keys":
                ids = [i for i in ids if i not in self.own_keys]
            self.pools[collection] = ids
        return self.pools[collection]


def seed(live: Live, *, first: bool) -> None:
    """Users (with a contact method and a notification rule), a team, a service, a schedule,
    an escalation policy, a maintenance window, rules, a channel; the first time also an
    integration of each type and incidents from ingested alerts."""
    for name in USERS:
        user = live.post("/api/v1/users", {"username": name, "name": name.title(),
                                           "email": f"{name}@example.com"})
        if user is not None:
            method = live.post(f"/api/v1/users/{user['id']}/contact-methods",
                               {"type": "email", "address": f"{name}@example.com"})
            live.post(f"/api/v1/users/{user['id']}/notification-rules",
                      {"contact_method_id": method["id"]})
    for path, body in OBJECTS:
        live.post(path, body)
    if not first:
        return
    live.post("/api/v1/silences", {"matchers": ["service=db"], "duration_minutes": 60,
                                   "comment": "migration"})
    for kind in SOURCES:
        live.keys[kind] = live.post("/api/v1/integrations", {"name": kind, "type": kind})["key"]
    for n, (name, severity) in enumerate([("HighLatency", "critical"), ("DiskFull", "warning"),
                                         ("Down", "critical")]):
        resp = live.session.post(f"{live.url}/api/v1/ingest/alertmanager/"
                                 f"{live.keys['alertmanager']}", json={
            "version": "4", "status": "firing", "alerts": [{
                "status": "firing",
                "labels": {"alertname": name, "service": "checkout", "severity": severity,
                           "instance": f"i-{n}"},
                "annotations": {"summary": f"{name} on checkout"}}]}, timeout=60)
        assert resp.status_code == 202, resp.text
