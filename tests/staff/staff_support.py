"""Staff accounts and logged-in browsers (TestClient) for the staff view's tests."""

from __future__ import annotations

import re

from sqlmodel import Session
from starlette.testclient import TestClient

from gateway.db import make_engine
from gateway.staff.accounts import create_account

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_staff(database_url: str, email: str, role: str, password: str = PASSWORD) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        create_account(session, email, role, password)
        session.commit()
    engine.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "the page has no form with a csrf_token"
    return found.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    """Log in through the real form; the client keeps the session cookie."""
    page = client.get("/staff/login")
    response = client.post("/staff/login", data={
        "email": email, "password": password, "csrf_token": csrf_of(page.text),
        "next": "/staff/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def post_form(client: TestClient, page_url: str, action: str, data: dict, **kwargs):
    """Open `page_url`, take its CSRF token, post `data` to `action` as the page's form would."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data}, **kwargs)
