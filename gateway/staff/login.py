"""Logging in and out of the staff view.

Errors are generic ("Wrong email or password, or the account is locked for a while"), the
session id changes at login, and every attempt lands in the audit log.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.staff import accounts, audit, web_sessions
from gateway.staff.pages import Context, render, staff_page

if TYPE_CHECKING:
    from gateway.runtime import Runtime

LOGIN_CSRF_COOKIE = "gw_login_csrf"  # double-submit token: the login form has no session yet
GENERIC_ERROR = "Wrong email or password, or the account is locked for a while."
FIELD_LIMIT = 256


async def login_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    session = await web_sessions.load(runtime.redis, runtime.settings,
                                      request.cookies.get(web_sessions.COOKIE))
    if session is not None:
        return RedirectResponse(_next(request.query_params.get("next")), 303)
    return _form(request, runtime, 200, _next(request.query_params.get("next")), None, "")


def _form(request: Request, runtime: Runtime, status: int, target: str, error: str | None,
          email: str) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status, next=target, error=error, email=email,
                      login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        path="/staff/login",
                        secure=web_sessions.is_https(request, runtime.settings))
    return response


async def login_submit(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await request.form(max_files=0)  # a file in the login form is refused (400)
    email = str(form.get("email") or "")[:FIELD_LIMIT].replace("\x00", "")  # SQL refuses NUL
    password = str(form.get("password") or "")[:FIELD_LIMIT]
    target = _next(str(form.get("next") or ""))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = form.get("csrf_token")
    if not cookie or not isinstance(token, str) or not hmac.compare_digest(cookie, token):
        return _form(request, runtime, 403, target,
                     "This form had expired. Please log in again.", email)
    try:
        staff = await run_in_threadpool(_authenticate, runtime, email, password)
    except accounts.LoginFailed:
        return _form(request, runtime, 401, target, GENERIC_ERROR, email)
    except SQLAlchemyError:
        return _form(request, runtime, 503, target,
                     "The database is unavailable. Try again in a minute.", email)
    old = request.cookies.get(web_sessions.COOKIE)
    session = await web_sessions.start(runtime.redis, runtime.settings, staff, old_id=old)
    response = RedirectResponse(target, 303)
    web_sessions.set_cookie(response, request, runtime.settings, session.id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
    return response


def _authenticate(runtime: Runtime, email: str, password: str) -> accounts.Staff:
    settings = runtime.settings.staff
    with Session(runtime.engine) as session:
        try:
            staff = accounts.authenticate(
                session, email, password, attempts=settings.lockout_attempts,
                lockout=timedelta(minutes=settings.lockout_minutes))
        except accounts.LoginFailed:
            typed = accounts.normalise_email(email)
            locked = accounts.is_locked(session, typed)
            audit.record(session, typed if "@" in typed else "anonymous", "login_failed",
                         detail="account locked" if locked else "")
            session.commit()
            raise
        audit.record(session, staff.email, "login")
        session.commit()
        return staff


@staff_page()
async def logout(request: Request, ctx: Context) -> Response:
    await web_sessions.end(ctx.runtime.redis, ctx.session.id)
    await run_in_threadpool(_audit, ctx.runtime, ctx.actor, "logout")
    response = RedirectResponse("/staff/login", 303)
    web_sessions.clear_cookie(response, request, ctx.runtime.settings)
    return response


def _audit(runtime: Runtime, actor: str, action: str, target: str = "", detail: str = "") -> None:
    with Session(runtime.engine) as session:
        audit.record(session, actor, action, target, detail)
        session.commit()


def _next(value: str | None) -> str:
    """Only a path inside /staff/ (no open redirect to another site)."""
    if not value:
        return "/staff/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/") or "\\" in value:
        return "/staff/"
    return value
