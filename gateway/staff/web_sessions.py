"""Staff sessions in Redis, behind an opaque cookie.

- The cookie holds a random id; Redis holds `gw:staff:session:{sha256(id)}` (so a Redis dump
  does not hand out live cookies) with the staff member, a CSRF token and two times.
- A session ends after `staff.idle_timeout_minutes` unused (the key's TTL, renewed on use) and
  `staff.absolute_timeout_hours` after login, whatever happens.
- Logging in always makes a new id (an id planted before login is worthless after it).
- The cookie is HttpOnly and SameSite=Lax, and Secure when the site is served over https.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response

from gateway.config import Settings
from gateway.staff.accounts import Staff

COOKIE = "gw_staff"


@dataclass(frozen=True)
class StaffSession:
    id: str  # the cookie value
    staff: Staff
    csrf: str
    created: float


def _key(session_id: str) -> str:
    return "gw:staff:session:" + hashlib.sha256(session_id.encode()).hexdigest()


async def start(redis: Redis, settings: Settings, staff: Staff, old_id: str | None = None,
                now: float | None = None) -> StaffSession:
    """A fresh session (a new id, a new CSRF token); the old one, if any, is ended."""
    if old_id:
        await redis.delete(_key(old_id))
    now = now or time.time()
    session = StaffSession(secrets.token_urlsafe(32), staff, secrets.token_urlsafe(32), now)
    data = {"staff": [staff.id, staff.email, staff.role], "csrf": session.csrf, "created": now}
    await redis.set(_key(session.id), json.dumps(data), ex=_idle(settings))
    return session


async def load(redis: Redis, settings: Settings, session_id: str | None,
               now: float | None = None) -> StaffSession | None:
    """The live session for a cookie value, its idle timer renewed; None if there is none."""
    if not session_id or len(session_id) > 100:
        return None
    key = _key(session_id)
    raw = await redis.get(key)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        staff_id, email, role = data["staff"]
        session = StaffSession(session_id, Staff(int(staff_id), str(email), str(role)),
                               str(data["csrf"]), float(data["created"]))
    except (ValueError, KeyError, TypeError):
        await redis.delete(key)
        return None
    now = now or time.time()
    if now - session.created > settings.staff.absolute_timeout_hours * 3600:
        await redis.delete(key)
        return None
    await redis.expire(key, _idle(settings))
    return session


async def end(redis: Redis, session_id: str | None) -> None:
    if session_id:
        await redis.delete(_key(session_id))


def set_cookie(response: Response, request: Request, settings: Settings, session_id: str) -> None:
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="lax", secure=is_https(request, settings),
        path="/staff", max_age=settings.staff.absolute_timeout_hours * 3600,
    )


def clear_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/staff", httponly=True, samesite="lax",
                           secure=is_https(request, settings))


def is_https(request: Request, settings: Settings) -> bool:
    """Served over https: the request itself, or GATEWAY_PUBLIC_URL behind a proxy."""
    public = settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _idle(settings: Settings) -> int:
    return settings.staff.idle_timeout_minutes * 60
