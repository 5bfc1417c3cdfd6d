"""The SQL database: one engine per process, built from DATABASE_URL.

SQLite (the default, under var/) needs no server; PostgreSQL is for production. Plain
`postgres://` and `postgresql://` URLs are taken to mean the psycopg 3 driver we ship.

PostgreSQL going away must cost a webhook seconds, not minutes: a connection attempt gives up
after CONNECT_TIMEOUT_SECONDS (also when the host accepts TCP and never answers), a pooled
connection is pinged before use (a cut one is replaced, not used), waiting for a free pooled
connection gives up after POOL_TIMEOUT_SECONDS, and TCP keepalives notice a peer that vanished
mid-connection. `note_unreachable` / `recently_unreachable` let a hot path that can do
without the database (a USSD hop's "My reports") skip it for a few seconds after it failed.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session


def database_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


CONNECT_TIMEOUT_SECONDS = 2  # libpq's minimum
POOL_TIMEOUT_SECONDS = 5.0
POOL_RECYCLE_SECONDS = 300  # also replaces connections a firewall dropped without a word
UNREACHABLE_SKIP_SECONDS = 5.0
_POSTGRES_CONNECT_ARGS = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,  # ms: data unacknowledged this long means the peer is gone
}


def make_engine(url: str) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=dict(_POSTGRES_CONNECT_ARGS),
    )


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the web process read while the worker writes; the busy timeout rides out short locks.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def check(engine: Engine) -> None:
    """Raise SQLAlchemyError unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def ping(engine: Engine) -> bool:
    try:
        check(engine)
    except SQLAlchemyError:
        return False
    return True


_unreachable_until: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def note_unreachable(engine: Engine, seconds: float = UNREACHABLE_SKIP_SECONDS) -> None:
    """The database just failed or did not answer in time: say so for `seconds`."""
    _unreachable_until[engine] = time.monotonic() + seconds


def recently_unreachable(engine: Engine) -> bool:
    """True within a few seconds of `note_unreachable`: a caller that can do without the
    database answers without it rather than wait again."""
    return time.monotonic() < _unreachable_until.get(engine, 0.0)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    return database_url(url).render_as_string(hide_password=True)
