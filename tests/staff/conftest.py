"""Staff view fixtures: the app on a real database of each backend, staff accounts, logged-in
clients (the session cookie kept by TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from staff.staff_support import add_staff, log_in

ADMIN = "ann@county.go.ke"
ANALYST = "abe@county.go.ke"


@pytest.fixture(scope="session", params=["postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """The staff pages' HTTP tests run on PostgreSQL (production's database) only, to keep CI
    inside its time; the browser tests (tests/browser) drive the same pages on SQLite."""
    return request.param


@pytest.fixture
def staff_settings(settings: Settings, db_engine) -> Settings:  # noqa: ARG001 (db_engine: empty)
    return settings


@pytest.fixture
def web(staff_settings: Settings, redis_sync) -> Iterator[TestClient]:
    """A browser with nobody logged in (https base URL: the cookie is then Secure)."""
    with TestClient(create_app(staff_settings), base_url="https://testserver") as client:
        yield client


@pytest.fixture
def accounts(staff_settings: Settings) -> dict[str, str]:
    add_staff(staff_settings.database_url, ADMIN, "admin")
    add_staff(staff_settings.database_url, ANALYST, "analyst")
    return {"admin": ADMIN, "analyst": ANALYST}


@pytest.fixture
def admin(web: TestClient, accounts: dict[str, str]) -> TestClient:
    return log_in(web, accounts["admin"])


@pytest.fixture
def analyst(staff_settings: Settings, redis_sync, accounts: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(staff_settings), base_url="https://testserver") as client:
        yield log_in(client, accounts["analyst"])
