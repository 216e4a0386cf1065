"""Prebuilt HTTP requests: Alertmanager v4 webhooks and generic JSON alerts, every alert
with a label set (or dedup key) never sent before, so each one opens a new alert."""

from __future__ import annotations

import orjson

from bench.loadgen import Req

_AM_ALERT = (
    '{{"status":"firing","labels":{{"alertname":"BenchAlert{kind}","instance":'
    '"node-{n}.bench.internal:9100","job":"node","severity":"{sev}","service":"svc-{svc}"'
    '{extra}}},'
    '"annotations":{{"summary":"Bench alert {n} is firing on node-{n}",'
    '"description":"synthetic load from python -m bench"}},'
    '"startsAt":"2026-11-22T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"http://prometheus:9090/graph?g0.expr=up%3D%3D0","fingerprint":"{n:016x}"}}'
)
_AM_HEAD = (
    '{"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing",'
    '"receiver":"vigil","groupLabels":{},"commonLabels":{},"commonAnnotations":{},'
    '"externalURL":"http://alertmanager:9093","alerts":['
)
_GENERIC = (
    '{{"title":"Bench generic alert {n}","dedup_key":"bench-{n}","severity":"high",'
    '"service":"svc-{svc}","description":"synthetic load from python -m bench"}}'
)
_SEVERITIES = ("warning", "critical", "warning", "info")


class Payloads:
    """Builds requests for one server; ``next_id`` keeps every alert unique across calls."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.next_id = 1

    def _take(self, count: int) -> range:
        ids = range(self.next_id, self.next_id + count)
        self.next_id += count
        return ids

    def _post(self, path: str, body: bytes) -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"User-Agent: vigil-bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def get(self, path: str, token: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"User-Agent: vigil-bench\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()

    def alertmanager(self, key: str, requests: int, per_request: int, *, names: int = 50,
                     groups: int = 0, teams: int = 50) -> list[Req]:
        """``requests`` webhooks of ``per_request`` new alerts each. ``names`` distinct
        alert names (the default rule groups by name and service); with ``groups``, each
        alert also carries ``env="prod"``, ``group`` (one of ``groups``) and ``team`` (one
        of ``teams``, fixed per group) for the correlation-rule scenarios."""
        path = f"/api/v1/ingest/alertmanager/{key}"
        out: list[Req] = []

        def extra(n: int) -> str:
            if not groups:
                return ""
            g = n % groups
            return f',"env":"prod","group":"g{g}","team":"team{g % teams}"'

        for _ in range(requests):
            alerts = ",".join(
                _AM_ALERT.format(n=n, kind=n % names, sev=_SEVERITIES[n % 4], svc=n % 40,
                                 extra=extra(n))
                for n in self._take(per_request)
            )
            out.append(Req(self._post(path, f"{_AM_HEAD}{alerts}]}}".encode()), per_request))
        _check_json(out)
        return out

    def generic(self, key: str, requests: int) -> list[Req]:
        """``requests`` generic JSON alerts, one per request."""
        path = f"/api/v1/ingest/generic/{key}"
        out = [
            Req(self._post(path, _GENERIC.format(n=n, svc=n % 40).encode()), 1)
            for n in self._take(requests)
        ]
        _check_json(out)
        return out


def _check_json(reqs: list[Req]) -> None:
    """The templates are hand-written JSON: make sure the first one parses."""
    if reqs:
        orjson.loads(reqs[0].data.split(b"\r\n\r\n", 1)[1])
