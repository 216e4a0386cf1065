"""Sign-in is rate-limited per username and per address with exponential backoff, in the
database (every node sees the same counters) and on the clock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import Harness, make_harness
from vigil.auth import sign_in_limits
from vigil.auth.models import SignInAttempt, User
from vigil.auth.sign_in import hash_password
from vigil.clock import FakeClock
from vigil.tenants.models import DEFAULT_TENANT_ID

PASSWORD = "correct horse battery"
WRONG = "not the password"


def add_user(h: Harness, username: str) -> None:
    now = h.clock.now()
    with h.ctx.db.write() as s:
        s.add(User(tenant_id=DEFAULT_TENANT_ID, username=username, name=username.title(),
                   email=f"{username}@example.com", time_zone="UTC", role="responder",
                   password_hash=hash_password(PASSWORD),
                   ical_token=secrets.token_urlsafe(24), created_at=now, updated_at=now))


def attempt(client: TestClient, username: str, password: str) -> Any:
    client.cookies.clear()
    return client.post("/login", data={"username": username, "password": password},
                       follow_redirects=False)


@pytest.fixture
def alice(vigil: Harness) -> Harness:
    add_user(vigil, "alice")
    return vigil


def from_address(h: Harness, address: str) -> TestClient:
    return TestClient(h.client.app, client=(address, 40000))


def test_five_wrong_passwords_lock_the_user_then_the_clock_unlocks(alice: Harness) -> None:
    h = alice
    for _ in range(4):
        assert attempt(h.client, "alice", WRONG).status_code == 401
    locked = attempt(h.client, "alice", WRONG)
    assert locked.status_code == 429, locked.text
    assert locked.headers["Retry-After"] == "30"
    assert "Too many failed sign-ins. Try again in 30 seconds." in locked.text
    # While locked even the right password is refused, without being checked.
    h.clock.advance(seconds=10)
    refused = attempt(h.client, "alice", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "20"
    h.clock.advance(seconds=20)
    ok = attempt(h.client, "alice", PASSWORD)
    assert ok.status_code == 303, ok.text
    # A success resets the user's counter: four more mistakes are allowed again.
    for _ in range(4):
        assert attempt(h.client, "alice", WRONG).status_code == 401


def test_the_lock_doubles_with_each_further_failure(alice: Harness) -> None:
    h = alice
    for _ in range(5):
        last = attempt(h.client, "alice", WRONG)
    waits = [int(last.headers["Retry-After"])]
    for _ in range(6):
        h.clock.advance(seconds=waits[-1])
        resp = attempt(h.client, "alice", WRONG)
        assert resp.status_code == 429
        waits.append(int(resp.headers["Retry-After"]))
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at 15 minutes
    assert "15 minutes" in resp.text


def test_failures_spread_beyond_the_window_are_forgotten(alice: Harness) -> None:
    h = alice
    for _ in range(4):
        assert attempt(h.client, "alice", WRONG).status_code == 401
    h.clock.advance(minutes=16)
    for _ in range(4):
        assert attempt(h.client, "alice", WRONG).status_code == 401


def test_an_unknown_username_is_limited_the_same_way(vigil: Harness) -> None:
    answers = [attempt(vigil.client, "nobody", WRONG).status_code for _ in range(6)]
    assert answers == [401, 401, 401, 401, 429, 429]


def test_a_locked_user_is_locked_from_every_address(alice: Harness) -> None:
    h = alice
    for _ in range(5):
        attempt(h.client, "alice", WRONG)
    elsewhere = from_address(h, "192.0.2.7")
    assert attempt(elsewhere, "alice", PASSWORD).status_code == 429
    # Another person at the first address is not locked by alice's counter.
    add_user(h, "bob")
    assert attempt(h.client, "bob", PASSWORD).status_code == 303


def test_an_address_guessing_many_usernames_is_locked(alice: Harness) -> None:
    h = alice
    guesser = from_address(h, "198.51.100.9")
    for i in range(19):
        assert attempt(guesser, f"user{i}", WRONG).status_code == 401
    resp = attempt(guesser, "user19", WRONG)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
    assert attempt(guesser, "alice", PASSWORD).status_code == 429  # the address is locked
    assert attempt(h.client, "alice", PASSWORD).status_code == 303  # other addresses are not
    h.clock.advance(seconds=31)
    assert attempt(guesser, "alice", PASSWORD).status_code == 303
    # A valid sign-in does not clear the address's counter: the next guess locks it again.
    resp = attempt(guesser, "user20", WRONG)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"


def test_a_right_password_on_the_attempt_that_would_lock_signs_in(alice: Harness) -> None:
    h = alice
    for _ in range(4):
        attempt(h.client, "alice", WRONG)
    assert attempt(h.client, "alice", PASSWORD).status_code == 303
    assert attempt(h.client, "alice", WRONG).status_code == 401


@pytest.fixture
def second_node(db_url: str, clock: FakeClock) -> Iterator[Harness]:
    yield from make_harness(db_url, clock)


def test_nodes_sharing_the_database_share_the_counters(alice: Harness,
                                                       second_node: Harness) -> None:
    for client in (alice.client, second_node.client) * 2:
        assert attempt(client, "alice", WRONG).status_code == 401
    assert attempt(second_node.client, "alice", WRONG).status_code == 429
    assert attempt(alice.client, "alice", PASSWORD).status_code == 429


def test_parallel_guesses_cannot_slip_past_the_threshold(vigil: Harness) -> None:
    """Attempts are counted before their passwords are checked: of many begun at the same
    moment (none finished), only the threshold's worth are let through."""
    now = vigil.clock.now()
    let_through = 0
    for _ in range(12):
        with vigil.ctx.db.write() as s:
            got = sign_in_limits.begin(s, username="alice", address=None, now=now)
        let_through += got.refused is None
    assert let_through == sign_in_limits.USER.threshold
    with vigil.ctx.db.write() as s:
        got = sign_in_limits.begin(s, username="alice", address=None,
                                   now=now + timedelta(seconds=31))
    assert got.refused is None and got.locks_for == timedelta(seconds=60)


def test_counters_quiet_for_a_day_are_pruned(alice: Harness) -> None:
    h = alice
    guesser = from_address(h, "203.0.113.5")
    for name in ("alice", "ghost"):
        assert attempt(guesser, name, WRONG).status_code == 401
    h.clock.advance(days=2)
    assert attempt(guesser, "alice", WRONG).status_code == 401  # its own old rows: reused
    with h.ctx.db.read() as s:
        subjects = {(r.scope, r.subject, r.failures)
                    for r in s.scalars(select(SignInAttempt))}
    assert subjects == {("user", "alice", 1), ("address", "203.0.113.5", 1)}


def test_concurrent_attempts_on_several_connections_respect_the_threshold(
        vigil: Harness) -> None:
    now = vigil.clock.now()

    def one(_: int) -> bool:
        with vigil.ctx.db.write() as s:
            got = sign_in_limits.begin(s, username="carol", address="192.0.2.1", now=now)
        return got.refused is None

    with ThreadPoolExecutor(max_workers=8) as pool:
        through = sum(pool.map(one, range(16)))
    assert through == sign_in_limits.USER.threshold
