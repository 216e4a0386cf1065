"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema (schemathesis).

The live app: a real ``uvicorn`` server on 127.0.0.1 serving ``create_app`` over a real
SQLite file with the pipeline running, seeded with real objects (``fuzz_seed.py``). Every
operation of ``/openapi.json`` is called with generated parameters and bodies, valid and
invalid ones (schemathesis' examples, coverage and fuzzing phases): once with an admin key,
so that requests reach the handlers, and once with a viewer key, where every write must be
refused with a 4xx. About half the requests name existing rows (``_aim``).

Every answer must be a non-5xx whose status, content type and body the schema declares.
The ingest routes read their bodies themselves (the schema declares none), so they get a
test of their own with mutations of the captured payloads of each source.

Nothing is excluded: the one endpoint that streams forever (``/ui/events``, Server-Sent
Events) and the web UI's pages are not API operations, so they are not in the schema.

The budget is bounded for CI (about 3 minutes on 2 cores): ``VIGIL_FUZZ_EXAMPLES``
generated examples per operation as admin (default 15; the coverage phase adds its boundary
values), a third of that as viewer. Raise it for a longer run:
``VIGIL_FUZZ_EXAMPLES=200 pytest tests/http/test_api_fuzz.py`` (``VIGIL_FUZZ_REPORT=<file>`` writes
what each operation answered). Generation is derandomized and the clock is fake, so every
run sends the same requests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fuzz_seed import Live, seed
from payload_mutations import FIXTURE_PAYLOADS, OG_ACTION, OG_CREATE, mutations
from server import free_port
from vigil.app import create_app
from vigil.auth.service import create_api_key
from vigil.clock import FakeClock
from vigil.config import Settings
from vigil.http.ids import MAX_BIG_ID, MAX_ID
from vigil.integrations.registry import BODY_PARSERS
from vigil.tenants.models import DEFAULT_TENANT_ID

EXAMPLES = int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "15"))
VIEWER_EXAMPLES = max(1, EXAMPLES // 3)


def _openapi() -> dict[str, Any]:
    """The app's own schema (building it touches no database)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(database_url=f"sqlite:///{tmp}/schema.db"),
                         run_background_jobs=False)
        try:
            return app.openapi()
        finally:
            app.state.ctx.db.dispose()


OPENAPI = _openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
#: The viewer pass checks that roles are refused with a 4xx: a few generated examples per
#: operation, without the coverage phase's boundary values (the admin pass sends those all
#: the way to the handlers).
viewer_schema = schemathesis.openapi.from_dict(OPENAPI)
viewer_schema.config.phases.update(phases=["examples", "fuzzing"])

#: The writes a viewer's key may make: dry runs, and the ingest routes, which take an
#: integration key, not an API key.
VIEWER_WRITES = {"POST /api/v1/correlation-rules/test",
                 "POST /api/v1/notification-templates/preview"} | {
    f"POST {path}" for path in OPENAPI["paths"] if path.startswith(("/api/v1/ingest/", "/v2/"))}

CHECKS: list[CheckFunction] = [not_a_server_error, status_code_conformance,
                               content_type_conformance, response_schema_conformance]

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    target = tmp_path_factory.mktemp("fuzz") / "vigil.db"
    shutil.copy(sqlite_template, target)
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    app = create_app(Settings(database_url=f"sqlite:///{target}"), clock=clock,
                     run_background_jobs=False)
    with app.state.ctx.db.write() as s:
        admin, admin_key = create_api_key(s, tenant_id=DEFAULT_TENANT_ID, name="fuzz admin",
                                          role="admin", now=clock.now())
        viewer, viewer_key = create_api_key(s, tenant_id=DEFAULT_TENANT_ID,
                                            name="fuzz viewer", role="viewer", now=clock.now())
        own_keys = {admin.id, viewer.id}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="fuzz-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        with requests.Session() as session:
            out = Live(url=f"http://127.0.0.1:{port}", session=session,
                       admin={"Authorization": f"Bearer {admin_key}"},
                       viewer={"Authorization": f"Bearer {viewer_key}"}, own_keys=own_keys)
            seed(out, first=True)
            yield out
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(autouse=True)
def _seeded(request: pytest.FixtureRequest, live: Live) -> Iterator[None]:
    """Each operation starts with the seeded objects there (a delete may have removed
    them) and looks up existing ids afresh."""
    live.pools.clear()
    yield
    if "[DELETE " in request.node.name or "merge" in request.node.name:
        seed(live, first=False)


def _number(value: Any) -> Decimal | None:
    """What a path parameter says as a number, the way the server may read it."""
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _aim(case: Any, live: Live, auth: dict[str, str]) -> dict[str, str]:
    """Point about half the generated requests at what exists, so that they get past the
    lookups: ids of existing rows, real integration keys and kinds. Which half, and which
    row, is decided from the generated values, so a run stays deterministic. Answers the
    headers to send. The fuzzer's own API keys are never revoked."""
    path = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    if "key_id" in path and _number(path["key_id"]) in live.own_keys:
        path["key_id"] = MAX_ID  # the coverage phase sends "1": the admin key
    body = case.body if isinstance(case.body, dict | list | str | int | float) else None
    digest = hashlib.sha256(repr((case.operation.label, sorted(path.items(), key=str),
                                  body)).encode()).digest()  # no repr with an address
    if digest[0] % 2:
        return auth
    route: str = case.operation.path
    for name, value in list(path.items()):
        if type(value) is int and 1 <= value <= MAX_BIG_ID:
            ids = live.ids_under(route, name, path)
            if ids:
                path[name] = ids[value % len(ids)]
        elif name == "kind":
            path[name] = sorted(BODY_PARSERS)[digest[1] % len(BODY_PARSERS)]
        elif name == "token":
            path[name] = live.keys.get(str(path.get("kind")), live.keys["alertmanager"])
    if "opsgenie" in route or route.startswith("/v2/alerts"):
        return {"Authorization": f"GenieKey {live.keys['opsgenie']}"}
    return auth


# --- the ingest routes, with bodies of each source ------------------------------------------

#: (the source, its route, how its key is sent, the payloads it is sent mutations of)
SOURCES = [(kind, "/api/v1/ingest/{kind}/{token}", "path", FIXTURE_PAYLOADS[kind])
           for kind in sorted(BODY_PARSERS)] + [
    ("pagerduty", "/v2/enqueue", "routing_key", FIXTURE_PAYLOADS["pagerduty"]),
    ("opsgenie", "/v2/alerts", "header", OG_CREATE),
    ("opsgenie", "/v2/alerts/{identifier}/close", "header", OG_ACTION),
]


@pytest.mark.parametrize(("kind", "route", "key_in", "bases"), SOURCES,
                         ids=[f"{k} {r}" for k, r, _, _ in SOURCES])
@settings(FUZZ, max_examples=EXAMPLES * 5)
@given(data=st.data())
def test_ingest_mutated_payloads(live: Live, kind: str, route: str, key_in: str,
                                 bases: list[Any], data: st.DataObject) -> None:
    """Each source's captured payloads, mutated, sent with a real key: never a 5xx, and
    the answer is the one the schema declares."""
    payload = data.draw(mutations(bases), label="payload")
    key = live.keys[kind]
    params = {"kind": kind, "token": key, "identifier": str(data.draw(st.integers(1, 5)))}
    headers = {"Authorization": f"GenieKey {key}"} if key_in == "header" else {}
    if key_in == "routing_key" and isinstance(payload, dict):
        payload["routing_key"] = key
    operation = schema[route]["POST"]
    resp = live.session.post(live.url + route.format(**params), json=payload, headers=headers,
                             timeout=60)
    case = operation.Case(path_parameters={k: v for k, v in params.items()
                                           if "{" + k + "}" in route})
    case.validate_response(resp, checks=CHECKS)


# --- every operation of the schema ---------------------------------------------------------

@schema.parametrize()
@settings(FUZZ, max_examples=EXAMPLES)
def test_api_as_admin(case: Any, live: Live) -> None:
    resp = case.call_and_validate(base_url=live.url, session=live.session,
                                  headers=_aim(case, live, live.admin), checks=CHECKS)
    live.answers.setdefault(case.operation.label, Counter())[resp.status_code] += 1


@viewer_schema.parametrize()
@settings(FUZZ, max_examples=VIEWER_EXAMPLES)
def test_api_as_viewer(case: Any, live: Live) -> None:
    resp = case.call_and_validate(base_url=live.url, session=live.session,
                                  headers=_aim(case, live, live.viewer), checks=CHECKS)
    if case.method.upper() not in ("GET", "HEAD", "OPTIONS") and resp.status_code < 300:
        live.viewer_writes.add(case.operation.label)


def test_a_viewer_changes_only_what_viewers_may(live: Live) -> None:
    """Writes the viewer pass got a 2xx for: the ingest routes (an integration key is what
    they need) and a viewer's own things."""
    if not live.answers and not live.viewer_writes:
        pytest.skip("the viewer pass did not run (deselected)")
    assert live.viewer_writes <= VIEWER_WRITES, live.viewer_writes - VIEWER_WRITES


def test_the_admin_pass_reached_the_handlers(live: Live) -> None:
    """A fuzzer whose requests all bounce off authentication tests nothing: every operation
    the admin pass ran got answers other than 401, and most got a 2xx."""
    if not live.answers:
        pytest.skip("the admin pass did not run (deselected)")
    if os.environ.get("VIGIL_FUZZ_REPORT"):  # what each operation answered, for a long run
        Path(os.environ["VIGIL_FUZZ_REPORT"]).write_text("".join(
            f"{op}\t{dict(sorted(codes.items()))}\n" for op, codes in sorted(live.answers.items())))
    unauthorized = [op for op, codes in live.answers.items() if set(codes) == {401}]
    assert not unauthorized
    succeeded = [op for op, codes in live.answers.items()
                 if any(200 <= code < 300 for code in codes)]
    assert len(succeeded) >= 0.5 * len(live.answers), sorted(
        set(live.answers) - set(succeeded))
