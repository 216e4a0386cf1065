"""Web sessions are rows that can be revoked: sign-out, a password change, a role change,
an admin or the person themselves end them; idle and absolute expiry; the cookie is a
random token whose hash alone is stored."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import func, select

from conftest import Harness
from vigil.auth import sessions
from vigil.auth.models import User, UserSession
from vigil.auth.service import hash_secret
from vigil.auth.sign_in import COOKIE, hash_password
from vigil.tenants.models import DEFAULT_TENANT_ID

PASSWORD = "correct horse battery"


def add_user(h: Harness, username: str, role: str = "responder") -> int:
    now = h.clock.now()
    with h.ctx.db.write() as s:
        user = User(tenant_id=DEFAULT_TENANT_ID, username=username, name=username.title(),
                    email=f"{username}@example.com", time_zone="UTC", role=role,
                    password_hash=hash_password(PASSWORD),
                    ical_token=secrets.token_urlsafe(24), created_at=now, updated_at=now)
        s.add(user)
        s.flush()
        return user.id


def sign_in(h: Harness, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; answers the cookie (and leaves the client without it)."""
    h.client.cookies.clear()
    resp = h.client.post("/login", data={"username": username, "password": password},
                         follow_redirects=False)
    assert resp.status_code == 303, resp.text
    raw = resp.cookies.get(COOKIE)
    assert raw
    h.client.cookies.clear()
    return raw


def use(h: Harness, raw: str) -> None:
    h.client.cookies.clear()
    h.client.cookies.set(COOKIE, raw)


def works(h: Harness, raw: str) -> bool:
    """Whether the cookie still signs in: the API (401 or 200) and a page (redirect)."""
    use(h, raw)
    api = h.client.get("/api/v1/incidents")
    ui = h.client.get("/ui/incidents", follow_redirects=False)
    assert (api.status_code == 200) == (ui.status_code == 200), (api.text, ui.status_code)
    assert api.status_code in (200, 401), api.text
    return api.status_code == 200


def csrf(h: Harness, raw: str) -> str:
    use(h, raw)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">',
                      h.client.get("/ui/incidents").text)
    assert found
    return found.group(1)


def sessions_of(h: Harness, user_id: int, headers: dict[str, str] | None = None
                ) -> list[dict[str, Any]]:
    resp = h.client.get(f"/api/v1/users/{user_id}/sessions", headers=headers or h.auth)
    assert resp.status_code == 200, resp.text
    out: list[dict[str, Any]] = resp.json()
    return out


def test_the_cookie_is_a_random_token_only_its_hash_is_stored(vigil: Harness) -> None:
    add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    assert "alice" not in raw and "." not in raw and len(raw) >= 40
    with vigil.ctx.db.read() as s:
        row = s.scalars(select(UserSession)).one()
        assert row.token_hash == hash_secret(raw) and raw not in (row.token_hash, row.csrf)
        assert row.address == "testclient" and row.revoked_at is None
        assert row.expires_at == vigil.clock.now() + sessions.ABSOLUTE_LIFETIME
    assert works(vigil, raw)
    assert not works(vigil, raw[:-1] + ("A" if raw[-1] != "A" else "B"))


def test_a_cookie_stops_working_after_sign_out(vigil: Harness) -> None:
    add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    other = sign_in(vigil, "alice")
    token = csrf(vigil, raw)
    use(vigil, raw)
    resp = vigil.client.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    assert not works(vigil, raw)  # replaying the old cookie
    assert vigil.client.get("/ui", follow_redirects=False).headers["location"].startswith(
        "/login")
    assert works(vigil, other)  # signing out ends this session only


def test_sign_out_needs_the_sessions_csrf_token(vigil: Harness) -> None:
    add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    use(vigil, raw)
    resp = vigil.client.post("/logout", data={"csrf": "forged"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui"
    assert works(vigil, raw)


def test_an_admin_changing_a_password_ends_every_session(vigil: Harness) -> None:
    uid = add_user(vigil, "alice")
    first, second = sign_in(vigil, "alice"), sign_in(vigil, "alice")
    vigil.client.cookies.clear()
    resp = vigil.client.put(f"/api/v1/users/{uid}/password", headers=vigil.auth,
                            json={"password": "a new long password"})
    assert resp.status_code == 204, resp.text
    assert not works(vigil, first) and not works(vigil, second)
    assert sign_in(vigil, "alice", "a new long password")


def test_changing_ones_own_password_keeps_this_session_ends_the_others(
        vigil: Harness) -> None:
    uid = add_user(vigil, "alice")
    here, elsewhere = sign_in(vigil, "alice"), sign_in(vigil, "alice")
    token = csrf(vigil, here)
    resp = vigil.client.put(f"/api/v1/users/{uid}/password", headers={"X-CSRF-Token": token},
                            json={"password": "a new long password"})
    assert resp.status_code == 204, resp.text
    assert works(vigil, here)
    assert not works(vigil, elsewhere)


def test_idle_and_absolute_expiry(vigil: Harness) -> None:
    add_user(vigil, "alice")
    idle = sign_in(vigil, "alice")
    busy = sign_in(vigil, "alice")
    vigil.clock.advance(hours=1, minutes=30)
    assert works(vigil, busy)  # seen: its idle clock restarts
    vigil.clock.advance(minutes=31)
    assert not works(vigil, idle)  # 2 h 01 min unused
    assert works(vigil, busy)
    for _ in range(5):
        vigil.clock.advance(hours=1, minutes=50)
        assert works(vigil, busy)
    vigil.clock.advance(minutes=48)
    assert works(vigil, busy)  # 11 h 59 min after sign-in
    vigil.clock.advance(minutes=2)  # 12 h 01 min, however busy
    assert not works(vigil, busy)


def test_reads_touch_the_session_at_most_every_few_minutes(vigil: Harness) -> None:
    add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    writes = vigil.ctx.db.writes
    for _ in range(5):
        vigil.clock.advance(seconds=30)
        assert works(vigil, raw)
    assert vigil.ctx.db.writes == writes  # 2.5 min: reads only
    vigil.clock.advance(minutes=3)
    assert works(vigil, raw)
    with vigil.ctx.db.read() as s:
        assert s.scalars(select(UserSession.last_seen_at)).one() == vigil.clock.now()


def test_admins_list_and_revoke_a_persons_sessions(vigil: Harness) -> None:
    uid = add_user(vigil, "alice")
    first = sign_in(vigil, "alice")
    vigil.clock.advance(minutes=1)
    second = sign_in(vigil, "alice")
    vigil.client.cookies.clear()
    listed = sessions_of(vigil, uid)
    assert [s["active"] for s in listed] == [True, True]
    assert listed[0]["created_at"] > listed[1]["created_at"]  # newest first
    assert {s["address"] for s in listed} == {"testclient"}
    assert "token_hash" not in listed[0] and "csrf" not in listed[0]
    resp = vigil.client.delete(f"/api/v1/sessions/{listed[1]['id']}", headers=vigil.auth)
    assert resp.status_code == 200 and resp.json()["active"] is False, resp.text
    assert not works(vigil, first) and works(vigil, second)
    vigil.client.cookies.clear()
    assert [s["active"] for s in sessions_of(vigil, uid)] == [True, False]
    resp = vigil.client.delete(f"/api/v1/users/{uid}/sessions", headers=vigil.auth)
    assert resp.json() == {"revoked": 1}, resp.text
    assert not works(vigil, second)
    vigil.client.cookies.clear()
    assert vigil.client.get("/api/v1/users/999999/sessions",
                            headers=vigil.auth).status_code == 404
    assert vigil.client.delete("/api/v1/sessions/999999",
                               headers=vigil.auth).status_code == 404


def test_a_person_sees_and_ends_their_own_sessions_only(vigil: Harness) -> None:
    alice = add_user(vigil, "alice")
    bob = add_user(vigil, "bob")
    here, elsewhere = sign_in(vigil, "alice"), sign_in(vigil, "alice")
    bobs = sign_in(vigil, "bob")
    token = csrf(vigil, here)
    mine = sessions_of(vigil, alice, {"X-CSRF-Token": token})
    assert [s["current"] for s in mine] == [False, True]
    assert vigil.client.get(f"/api/v1/users/{bob}/sessions").status_code == 403
    vigil.client.cookies.clear()
    bob_session = sessions_of(vigil, bob)[0]["id"]
    use(vigil, here)
    resp = vigil.client.delete(f"/api/v1/sessions/{bob_session}",
                               headers={"X-CSRF-Token": token})
    assert resp.status_code == 404, resp.text
    assert vigil.client.delete(f"/api/v1/sessions/{mine[0]['id']}").status_code == 403  # CSRF
    resp = vigil.client.delete(f"/api/v1/sessions/{mine[0]['id']}",
                               headers={"X-CSRF-Token": token})
    assert resp.status_code == 200, resp.text
    assert not works(vigil, elsewhere) and works(vigil, here) and works(vigil, bobs)
    # "Sign out everywhere" keeps the session that asked.
    other = sign_in(vigil, "alice")
    use(vigil, here)
    resp = vigil.client.delete(f"/api/v1/users/{alice}/sessions",
                               headers={"X-CSRF-Token": token})
    assert resp.json() == {"revoked": 1}, resp.text
    assert works(vigil, here) and not works(vigil, other)


def test_a_role_change_ends_sessions_deleting_the_person_removes_them(
        vigil: Harness) -> None:
    uid = add_user(vigil, "alice", role="admin")
    raw = sign_in(vigil, "alice")
    vigil.client.cookies.clear()
    resp = vigil.client.patch(f"/api/v1/users/{uid}", headers=vigil.auth,
                              json={"name": "Alice A."})
    assert resp.status_code == 200, resp.text
    assert works(vigil, raw)  # no new role: the session stays
    vigil.client.cookies.clear()
    resp = vigil.client.patch(f"/api/v1/users/{uid}", headers=vigil.auth,
                              json={"role": "viewer"})
    assert resp.status_code == 200, resp.text
    assert not works(vigil, raw)
    raw = sign_in(vigil, "alice")
    vigil.client.cookies.clear()
    assert vigil.client.delete(f"/api/v1/users/{uid}", headers=vigil.auth).status_code == 204
    assert not works(vigil, raw)
    with vigil.ctx.db.read() as s:
        assert s.scalars(select(UserSession)).all() == []


def test_sign_in_sign_out_and_revocations_are_audited(vigil: Harness) -> None:
    from vigil.audit.models import AuditEntry

    with vigil.ctx.db.read() as s:
        start = s.scalar(select(func.max(AuditEntry.id))) or 0
    uid = add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    vigil.client.cookies.clear()
    vigil.client.post("/login", data={"username": "alice", "password": "wrong password"})
    token = csrf(vigil, raw)
    use(vigil, raw)
    vigil.client.post("/logout", data={"csrf": token}, follow_redirects=False)
    sign_in(vigil, "alice")
    vigil.client.put(f"/api/v1/users/{uid}/password", headers=vigil.auth,
                     json={"password": "a new long password"})
    sign_in(vigil, "alice", "a new long password")
    live = next(x for x in sessions_of(vigil, uid) if x["active"])["id"]
    vigil.client.delete(f"/api/v1/sessions/{live}", headers=vigil.auth)
    with vigil.ctx.db.read() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.id > start)
                         .order_by(AuditEntry.id)).all()
        mine = [(r.action, r.actor, r.target, r.address) for r in rows
                if r.action in ("sign_in", "sign_in_failed", "sign_out", "revoke_sessions",
                                 "revoke_session")]
    assert mine[:3] == [("sign_in", "user:alice", "user:alice", "testclient"),
                        ("sign_in_failed", "anonymous", "user:alice", "testclient"),
                        ("sign_out", "user:alice", mine[2][2], "testclient")]
    assert mine[2][2].startswith("session:")
    assert mine[3][0] == "sign_in"
    assert mine[4][:3] == ("revoke_sessions", "apikey:test admin", "user:alice")
    assert mine[5][0] == "sign_in"
    assert mine[6][:3] == ("revoke_session", "apikey:test admin", f"session:{live}")


def test_checking_a_session_is_one_query(vigil: Harness) -> None:
    from sqlalchemy import event
    from starlette.requests import Request

    from vigil.auth.deps import session_principal

    uid = add_user(vigil, "alice")
    raw = sign_in(vigil, "alice")
    request = Request({"type": "http", "method": "GET", "path": "/api/v1/incidents",
                       "headers": [(b"cookie", f"{COOKIE}={raw}".encode())]})
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(vigil.ctx.db.engine, "before_cursor_execute", count)
    try:
        who = session_principal(vigil.ctx, request)
    finally:
        event.remove(vigil.ctx.db.engine, "before_cursor_execute", count)
    assert who is not None and who.user_id == uid and who.session_id is not None
    queries = [q for q in statements if q.split()[0].upper() != "BEGIN"]
    assert len(queries) == 1 and "user_sessions" in queries[0], queries
