from __future__ import annotations

from datetime import datetime
from enum import Enum

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vigil.auth import service, sessions
from vigil.auth.deps import admin, viewer
from vigil.auth.models import User, UserSession
from vigil.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from vigil.auth.service import Principal
from vigil.auth.session_schemas import SessionRead, SessionsRevoked
from vigil.context import Context, get_context
from vigil.errors import Forbidden, NotFound
from vigil.http.ids import IdPath

#: API keys under /api/v1/api-keys; web sessions under /api/v1/users/{id}/sessions and
#: /api/v1/sessions/{id}.
router = APIRouter(prefix="/api/v1")
_KEYS = "/api-keys"
_API_KEYS: list[str | Enum] = ["api keys"]
_SESSIONS: list[str | Enum] = ["sessions"]


@router.get(_KEYS, response_model=list[ApiKeyRead], tags=_API_KEYS)
async def list_keys(
    who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> list[ApiKeyRead]:
    def run() -> list[ApiKeyRead]:
        with ctx.db.read() as s:
            return [ApiKeyRead.model_validate(k)
                    for k in service.list_api_keys(s, tenant_id=who.tenant_id)]
    return await run_in_threadpool(run)


@router.post(_KEYS, response_model=ApiKeyCreated, status_code=201, tags=_API_KEYS)
async def create_key(
    body: ApiKeyCreate, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> ApiKeyCreated:
    def run() -> ApiKeyCreated:
        with ctx.db.write() as s:
            key, raw = service.create_api_key(
                s, tenant_id=who.tenant_id, name=body.name, role=body.role, now=ctx.clock.now()
            )
            return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=raw)
    return await run_in_threadpool(run)


@router.delete(_KEYS + "/{key_id}", response_model=ApiKeyRead, tags=_API_KEYS)
async def revoke_key(
    key_id: IdPath, who: Principal = Depends(admin), ctx: Context = Depends(get_context)
) -> ApiKeyRead:
    def run() -> ApiKeyRead:
        with ctx.db.write() as s:
            key = service.revoke_api_key(s, tenant_id=who.tenant_id, key_id=key_id,
                                         now=ctx.clock.now())
            return ApiKeyRead.model_validate(key)
    return await run_in_threadpool(run)


def _person(s: Session, who: Principal, user_id: int) -> User:
    """The user whose sessions ``who`` asks about: an admin may ask about anyone, a
    person about themselves."""
    if not (who.can("admin") or who.user_id == user_id):
        raise Forbidden("only an admin may see or end another person's sessions")
    user = s.get(User, user_id)
    if user is None or user.tenant_id != who.tenant_id:
        raise NotFound(f"no user {user_id}", field="user_id")
    return user


def _read(row: UserSession, username: str, who: Principal, now: datetime) -> SessionRead:
    return SessionRead(
        id=row.id, user_id=row.user_id, username=username, created_at=row.created_at,
        last_seen_at=row.last_seen_at, expires_at=row.expires_at,
        idle_expires_at=sessions.idle_expiry(row), revoked_at=row.revoked_at,
        address=row.address, user_agent=row.user_agent, active=sessions.is_active(row, now),
        current=row.id == who.session_id)


@router.get("/users/{user_id}/sessions", response_model=list[SessionRead], tags=_SESSIONS)
async def list_sessions(
    user_id: IdPath, who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> list[SessionRead]:
    """A person's web sessions, newest first: live ones and those that ended in the last
    7 days. Admins see anyone's; a person their own."""
    def run() -> list[SessionRead]:
        now = ctx.clock.now()
        with ctx.db.read() as s:
            user = _person(s, who, user_id)
            return [_read(r, user.username, who, now)
                    for r in sessions.of_user(s, user_id=user.id)]
    return await run_in_threadpool(run)


@router.delete("/users/{user_id}/sessions", response_model=SessionsRevoked, tags=_SESSIONS)
async def revoke_sessions(
    user_id: IdPath, who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> SessionsRevoked:
    """Sign a person out everywhere (a person signing themselves out keeps the session
    this request came with)."""
    def run() -> SessionsRevoked:
        with ctx.db.write() as s:
            user = _person(s, who, user_id)
            keep = who.session_id if who.user_id == user.id else None
            count = sessions.end_all(s, user=user, actor=who.actor, now=ctx.clock.now(),
                                     reason="signed out everywhere", keep=keep)
            return SessionsRevoked(revoked=count)
    return await run_in_threadpool(run)


@router.delete("/sessions/{session_id}", response_model=SessionRead, tags=_SESSIONS)
async def revoke_session(
    session_id: IdPath, who: Principal = Depends(viewer), ctx: Context = Depends(get_context)
) -> SessionRead:
    """End one session: an admin any, a person their own."""
    def run() -> SessionRead:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            row = sessions.get(s, tenant_id=who.tenant_id, session_id=session_id)
            if not (who.can("admin") or who.user_id == row.user_id):
                raise NotFound(f"no session {session_id}", field="id")
            user = s.get(User, row.user_id)
            username = user.username if user is not None else ""
            if row.revoked_at is None:
                sessions.revoke(s, row=row, now=now)
                sessions.audit(s, tenant_id=row.tenant_id, actor=who.actor,
                               action="revoke_session", target=f"session:{row.id}",
                               after={"user": username}, now=now)
            return _read(row, username, who, now)
    return await run_in_threadpool(run)
