"""Staff log-in: generic errors, lockout, a new session id at login, cookie flags, timeouts,
CSRF on every form, roles, and the audit log that records it all."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway.db import make_engine
from gateway.models import AuditEntry, StaffAccount
from gateway.staff import web_sessions
from gateway.staff.accounts import Staff
from gateway.staff.login import GENERIC_ERROR
from staff.conftest import ADMIN, ANALYST
from staff.staff_support import PASSWORD, csrf_of


def attempt(client: TestClient, email: str, password: str):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"email": email, "password": password,
                                             "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def audit_rows(settings) -> list[tuple[str, str, str]]:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        rows = [(e.actor, e.action, e.detail) for e in session.exec(
            select(AuditEntry).order_by(AuditEntry.id))]
    engine.dispose()
    return rows


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(web, accounts):
    wrong = attempt(web, ADMIN, "not the password at all")
    unknown = attempt(web, "nobody@county.go.ke", PASSWORD)
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    for response in (wrong, unknown):
        assert GENERIC_ERROR in response.text
        assert web_sessions.COOKIE not in response.cookies


def test_logging_in_sets_a_fresh_httponly_samesite_secure_cookie(web, accounts, redis_sync):
    web.cookies.set(web_sessions.COOKIE, "planted-by-someone-else", path="/staff")
    response = attempt(web, ADMIN, PASSWORD)
    assert (response.status_code, response.headers["location"]) == (303, "/staff/")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    assert "Path=/staff" in cookie
    new_id = response.cookies[web_sessions.COOKIE]
    assert new_id != "planted-by-someone-else" and len(new_id) >= 40
    assert web.get("/staff/").status_code == 200
    assert ADMIN in web.get("/staff/").text


def test_over_plain_http_the_cookie_is_not_marked_secure(staff_settings, redis_sync, accounts):
    from gateway.app import create_app

    with TestClient(create_app(staff_settings), base_url="http://testserver") as client:
        response = attempt(client, ADMIN, PASSWORD)
    assert response.status_code == 303
    assert "Secure" not in response.headers["set-cookie"]


def test_five_wrong_passwords_lock_the_account_for_a_while(web, accounts, staff_settings):
    for _ in range(staff_settings.staff.lockout_attempts):
        assert attempt(web, ADMIN, "guessing wrongly again").status_code == 401
    locked = attempt(web, ADMIN, PASSWORD)  # even the right password, during the lock
    assert locked.status_code == 401 and GENERIC_ERROR in locked.text
    assert ("ann@county.go.ke", "login_failed", "account locked") in audit_rows(staff_settings)

    engine = make_engine(staff_settings.database_url)
    with Session(engine) as session:  # the lock runs out
        account = session.exec(select(StaffAccount).where(StaffAccount.email == ADMIN)).one()
        account.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        session.add(account)
        session.commit()
    engine.dispose()
    assert attempt(web, ADMIN, PASSWORD).status_code == 303


def test_a_login_form_without_its_token_is_refused(web, accounts):
    web.get("/staff/login")
    response = web.post("/staff/login", data={"email": ADMIN, "password": PASSWORD},
                        follow_redirects=False)
    assert response.status_code == 403
    assert web_sessions.COOKIE not in response.cookies


def test_pages_need_a_session_and_say_where_to_log_in(web):
    response = web.get("/staff/audit?page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/staff/login?next=%2Fstaff%2Faudit%3Fpage%3D2")
    assert web.post("/staff/logout", data={}).status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/staff/", "//evil.example/", "/elsewhere"])
def test_after_login_the_next_page_stays_inside_the_staff_view(web, accounts, target):
    page = web.get("/staff/login")
    response = web.post("/staff/login", data={"email": ADMIN, "password": PASSWORD,
                                              "csrf_token": csrf_of(page.text), "next": target},
                        follow_redirects=False)
    assert response.headers["location"] == "/staff/"


def test_a_form_posted_without_the_session_token_does_nothing(admin):
    response = admin.post("/staff/logout", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert admin.get("/staff/").status_code == 200  # still logged in


def test_logging_out_ends_the_session(admin):
    home = admin.get("/staff/")
    response = admin.post("/staff/logout", data={"csrf_token": csrf_of(home.text)},
                          follow_redirects=False)
    assert response.headers["location"] == "/staff/login"
    assert admin.get("/staff/", follow_redirects=False).status_code == 303


def test_an_analyst_cannot_read_the_audit_log_an_admin_can(analyst, admin, staff_settings):
    denied = analyst.get("/staff/audit")
    assert denied.status_code == 403 and "Your role cannot do this" in denied.text
    page = admin.get("/staff/audit")
    assert page.status_code == 200
    assert "<td>login</td>" in page.text and ANALYST in page.text


@pytest.mark.anyio
async def test_sessions_end_when_idle_and_after_the_absolute_timeout(staff_settings, redis_url):
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    staff = Staff(1, ADMIN, "admin")
    session = await web_sessions.start(redis, staff_settings, staff, now=1_000.0)
    key = "gw:staff:session:" + __import__("hashlib").sha256(session.id.encode()).hexdigest()
    idle = staff_settings.staff.idle_timeout_minutes * 60
    assert 0 < await redis.ttl(key) <= idle  # Redis forgets an idle session by itself
    assert await web_sessions.load(redis, staff_settings, session.id, now=1_001.0) is not None
    late = 1_000.0 + staff_settings.staff.absolute_timeout_hours * 3600 + 1
    assert await web_sessions.load(redis, staff_settings, session.id, now=late) is None
    assert await redis.exists(key) == 0
    await redis.aclose()


def test_staff_add_prompts_nothing_with_password_stdin_and_hashes_with_argon2id(
    staff_settings, tmp_path
):
    from conftest import environ_for_tests

    env = environ_for_tests(redis_url="redis://127.0.0.1:1/0",
                            database_url=staff_settings.database_url, var_dir=tmp_path / "var")
    command = [sys.executable, "-m", "gateway", "staff", "add", "Zed@County.go.ke",
               "--role", "analyst", "--password-stdin"]
    made = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True,
                          env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "zed@county.go.ke can now log in" in made.stdout
    weak = subprocess.run([*command[:5], "short@county.go.ke", *command[6:]],
                          input="short\n", capture_output=True, text=True, env=env, timeout=60)
    assert (weak.returncode, weak.stderr.strip()) == (
        1, "staff: the password must be at least 12 characters")
    again = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True,
                           env=env, timeout=60)
    assert again.returncode == 1 and "already has an account" in again.stderr

    engine = make_engine(staff_settings.database_url)
    with Session(engine) as session:
        account = session.exec(select(StaffAccount)).one()
    engine.dispose()
    assert (account.email, account.role) == ("zed@county.go.ke", "analyst")
    assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
