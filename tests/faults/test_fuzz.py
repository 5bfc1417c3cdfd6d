"""10,000 hostile requests across every endpoint that takes input: never a 5xx, and a 4xx changes
nothing.

The real app runs in-process (httpx's ASGI transport, lifespan included) on a private
redis-server (keyspace notifications on) and the fault tests' PostgreSQL database, emptied first.
Hypothesis draws the requests (tests/faults/fuzz_bodies.py), derandomized, so every run sends the
same ones; each endpoint has its share of the 10,000. After each request:
- the answer is 2xx, 3xx (a login) or 4xx; no exception escaped, nothing was logged at ERROR,
  no body shows a traceback, and a USSD 2xx is a `CON `/`END ` screen;
- after a 4xx (and after any GET) nothing changed: Redis saw no write (keyspace notifications,
  which report every write command; keys expiring on their own are not the request's doing) and
  its key count moved only by those expiries; no SQL transaction that wrote was committed; and
  the row count of every table is as before. One exception, by design: a login refused with 401
  records the attempt in the audit log (and the failure count of an existing account).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import redis
from conftest import REPO, empty_tables, environ_for_tests
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, SQLModel
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.channels.twilio import SIGNATURE_HEADER, sign
from gateway.config import Settings, load_settings
from gateway.models import ApiKey, Report
from gateway.outbox import NewMessage, add_message
from gateway.phone import pseudonym
from gateway.reports.reference import reference_for
from gateway.staff import accounts

from .conftest import PrivateRedis, free_port
from .fuzz_bodies import FORM, Endpoint, FuzzRequest, endpoints, requests_for

pytestmark = [pytest.mark.fault]

BASE = "http://testserver"
STAFF_EMAIL, STAFF_PASSWORD = "fuzz@county.go.ke", "correct horse battery staple"
API_KEY = "fuzz-api-key-0123456789"
SENT = {"africastalking": "ATXid_fuzzsent0001", "twilio": "SM" + "f" * 32}
# A refused login is audited (and counted against an existing account): the staff issue's rule.
LOGIN_AUDIT = frozenset({"audit_entry", "staff_account"})
EXPIRY_EVENTS = {"expired", "evicted"}  # a key's TTL running out, not the request's doing
# The contract's 503 means "retry later": Redis or the database is down, or a hop missed its
# 0.5 s deadline (on a machine this busy, it can). Retried as a provider would; one that
# persists is a failure, like any 5xx.
RETRIES_AFTER_503 = 3
# Bodies per Hypothesis example: its bookkeeping per example costs as much as a request.
BATCH = 4
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


@dataclass
class Seen:
    """What one request did."""

    status: int
    body: str
    redis_writes: list[tuple[str, str]]  # (event, key) of each write command
    key_count_change: int  # DBSIZE after - before, expiries put back
    sql_writes: set[str]  # tables written by a committed transaction
    rows_changed: dict[str, tuple[int, int]]  # table: (before, after)
    errors: list[str]  # exceptions and ERROR log lines
    retries: int  # 503s that a retry got past (a hop over its deadline on a busy machine)

    def changed(self, allowed: frozenset[str] = frozenset()) -> bool:
        return bool(self.redis_writes or self.key_count_change
                    or self.sql_writes - allowed or set(self.rows_changed) - allowed)


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}"
                          + (" (with traceback)" if record.exc_info else ""))


class Target:
    """The app, and a watch on everything it can change.

    Requests go straight to httpx's ASGI transport (no client: no cookie jar, no redirects),
    each run to completion on the app's event loop in this very thread. Starlette's TestClient,
    which hands each request to a loop in another thread, costs several times as much per
    request, and 10,000 requests feel it.
    """

    def __init__(self, app: Starlette, loop: asyncio.Runner, transport: httpx.ASGITransport,
                 redis_client: redis.Redis, counter: Connection) -> None:
        self.loop, self.transport = loop, transport
        self.redis = redis_client
        self.counter = counter  # its own connection: row counts seen from outside the app
        self.token = app.state.runtime.settings.twilio_auth_token
        self.events = redis_client.pubsub()
        self.events.psubscribe("__keyevent@*__:*")
        self.events.subscribe("fuzz:marker")
        self.marks = 0
        self.committed: set[str] = set()
        self.errors = ErrorLog()
        logging.getLogger("gateway").addHandler(self.errors)
        engine = app.state.runtime.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        self.tables = [t.name for t in SQLModel.metadata.sorted_tables]
        self.count_query = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}")'
                                                 for t in self.tables)
        self.key_count, _ = self._drain()
        self.rows = self._rows()

    def close(self) -> None:
        logging.getLogger("gateway").removeHandler(self.errors)
        self.events.close()

    # what the app writes
    @staticmethod
    def _statement(conn, cursor, statement, parameters, context, executemany) -> None:
        written = _WRITE.match(statement)
        if written:
            conn.info.setdefault("fuzz_writes", set()).add(written.group(1).lower())

    def _commit(self, conn) -> None:
        self.committed |= conn.info.pop("fuzz_writes", set())

    @staticmethod
    def _rollback(conn) -> None:
        conn.info.pop("fuzz_writes", None)

    def _drain(self) -> tuple[int, list[tuple[str, str]]]:
        """The key count and every keyspace event up to now, at one instant: a marker published
        with the count, in one transaction, arrives after all of those events."""
        self.marks += 1
        pipe = self.redis.pipeline(transaction=True)
        key_count, _ = pipe.dbsize().publish("fuzz:marker", str(self.marks)).execute()
        seen = []
        while True:
            message = self.events.get_message(timeout=5.0)
            assert message is not None, "the keyspace notifications stopped"
            if message["type"] == "pmessage":
                kind = message["channel"].decode().rsplit(":", 1)[1]
                seen.append((kind, message["data"].decode(errors="replace")))
            elif message["type"] == "message" and message["data"] == str(self.marks).encode():
                return int(key_count), seen

    def _rows(self) -> dict[str, int]:
        counts = self.counter.exec_driver_sql(self.count_query).one()
        return dict(zip(self.tables, counts, strict=True))

    # one request
    async def _request(self, request: FuzzRequest, url: str,
                       headers: dict[str, bytes]) -> tuple[int, str]:
        content = _chunks(request.body) if request.streamed else request.body
        sent = httpx.Request(request.method, url, headers=headers, content=content)
        response = await self.transport.handle_async_request(sent)
        return response.status_code, (await response.aread()).decode(errors="replace")

    def send(self, request: FuzzRequest) -> Seen:
        self.committed, self.errors.lines = set(), []
        headers = {name: value.encode("latin-1", "replace")  # bytes, as on the wire
                   for name, value in request.headers.items()}
        url = str(httpx.URL(BASE + request.url))
        if request.sign is not None:
            headers[SIGNATURE_HEADER] = sign(url, request.sign, self.token).encode()
        if request.cookies:
            cookies = "; ".join(f"{k}={v}" for k, v in request.cookies.items())
            headers["cookie"] = cookies.encode("latin-1", "replace")
        retries = 0
        while True:
            try:
                status, body = self.loop.run(self._request(request, url, headers))
            except Exception as error:  # an exception the app let escape: a 500 to the provider
                status, body = 500, ""
                self.errors.lines.append(f"{type(error).__name__}: {error}")
            if status != 503 or retries == RETRIES_AFTER_503:
                break
            retries += 1  # "retry later", as the provider would: a 503 that stays is a failure
            time.sleep(0.2 * retries)
        key_count, events = self._drain()
        writes = [e for e in events if e[0] not in EXPIRY_EVENTS]
        expired = len(events) - len(writes)
        rows = self._rows()
        changed = {t: (self.rows[t], rows[t]) for t in rows if rows[t] != self.rows[t]}
        seen = Seen(status, body, writes, key_count - self.key_count + expired,
                    set(self.committed), changed, list(self.errors.lines), retries)
        self.key_count, self.rows = key_count, rows
        return seen


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 4096):
        yield body[start:start + 4096]


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    changed_on_4xx: int = 0
    retried_503: int = 0

    @property
    def bodies(self) -> int:
        return sum(self.statuses.values())

    def line(self) -> str:
        by_class = " ".join(f"{k}={self.statuses[k]}" for k in ("2xx", "3xx", "4xx"))
        return (f"bodies={self.bodies} {by_class} 5xx={self.statuses['5xx']} "
                f"changed_on_4xx={self.changed_on_4xx} (503 then retried: {self.retried_503})")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("fuzz-redis"), free_port(), appendonly=False)
    server.start()
    server.client().config_set("notify-keyspace-events", "KEA")  # every write, every key
    yield server
    server.kill()


def _seed(settings: Settings, engine: Engine) -> str:
    """What plausible values point at: an API key, a staff account, a report, sent messages."""
    from hashlib import sha256

    reference = reference_for("fuzz")
    with Session(engine) as session:
        session.add(ApiKey(name="fuzz", key_hash=sha256(API_KEY.encode()).hexdigest()))
        accounts.create_account(session, STAFF_EMAIL, "admin", STAFF_PASSWORD)
        session.add(Report(
            reference=reference, category="water", ward_code="kisumu-central/railways",
            description="Kiosk tap broken", channel="sms", language="en", status="submitted",
            reporter_pseudonym=pseudonym("+254711000089", settings.secret_key), source="citizen",
        ))
        for provider, provider_id in SENT.items():
            message = add_message(session, settings, NewMessage(
                pseudonym("+254711000088", settings.secret_key), "+254711000088", provider,
                "Asante!", "reply"))
            message.provider_id, message.status = provider_id, "sent"
            session.add(message)
        session.commit()
    return reference


@pytest.fixture(scope="module")
def target(
    fuzz_redis: PrivateRedis, database_url: str, _migrated_engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Target, list[Endpoint], int]]:
    empty_tables(_migrated_engine)
    environ = environ_for_tests(redis_url=fuzz_redis.url, database_url=database_url,
                                var_dir=tmp_path_factory.mktemp("fuzz-var"))
    settings = load_settings(environ, path=REPO / "settings.toml")
    reference = _seed(settings, _migrated_engine)
    app = create_app(settings)
    with asyncio.Runner() as loop, _migrated_engine.connect() as counter:
        lifespan = app.router.lifespan_context(app)
        loop.run(lifespan.__aenter__())
        counter = counter.execution_options(isolation_level="AUTOCOMMIT")
        watched = Target(app, loop, httpx.ASGITransport(app=app), fuzz_redis.client(), counter)
        yield watched, endpoints(reference, API_KEY, STAFF_EMAIL, STAFF_PASSWORD, SENT), \
            settings.app.max_body_bytes
        watched.close()
        loop.run(lifespan.__aexit__(None, None, None))
    empty_tables(_migrated_engine)


@pytest.fixture(scope="module")
def totals() -> Iterator[Tally]:
    total = Tally()
    yield total
    print(f"\nfuzz, every endpoint: {total.line()}")


# --- the checks ---------------------------------------------------------------------------------


def assert_answered_well(request: FuzzRequest, seen: Seen) -> None:
    """Never a 5xx, an escaped exception, an ERROR log line or a traceback; USSD gets a screen."""
    assert seen.status < 500, f"{request!r}: {seen.status} {seen.body[:300]!r} {seen.errors}"
    assert not seen.errors, f"{request!r}: {seen.errors}"
    assert "Traceback" not in seen.body
    if request.url.split("?")[0] == "/ussd/africastalking" and seen.status == 200:
        assert seen.body.startswith(("CON ", "END ")), seen.body


def change_on_refusal(request: FuzzRequest, seen: Seen) -> str | None:
    """What a 4xx (or any GET) changed, or None. A refused login (401) is audited, by design."""
    refused = 400 <= seen.status < 500
    login = request.url.startswith("/staff/login") and seen.status == 401
    if (refused or request.method == "GET") and seen.changed(LOGIN_AUDIT if login else frozenset()):
        return (f"{seen.status} {seen.body[:200]!r} changed state: redis {seen.redis_writes[:5]} "
                f"(keys {seen.key_count_change:+d}), sql {sorted(seen.sql_writes)}, "
                f"rows {seen.rows_changed}")
    return None


# --- the test -----------------------------------------------------------------------------------

NAMES = [e.name for e in endpoints("R-0000", "k", "a@b.c", "p", SENT)]


@pytest.mark.parametrize("name", NAMES)
def test_hostile_bodies_get_no_5xx_and_a_4xx_changes_nothing(name, target, totals) -> None:
    watched, every, limit = target
    endpoint = next(e for e in every if e.name == name)
    tally = Tally()

    @hypothesis_settings(
        max_examples=endpoint.examples // BATCH, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck), print_blob=False,
    )
    @given(batch=st.lists(requests_for(endpoint, limit), min_size=BATCH, max_size=BATCH))
    def exchange(batch: list[FuzzRequest]) -> None:
        for request in batch:
            seen = watched.send(request)
            tally.statuses[f"{seen.status // 100}xx"] += 1
            tally.retried_503 += bool(seen.retries)
            assert_answered_well(request, seen)
            change = change_on_refusal(request, seen)
            if change:
                tally.changed_on_4xx += 1
                raise AssertionError(f"{request!r}: {change}")

    exchange()
    totals.statuses.update(tally.statuses)
    totals.changed_on_4xx += tally.changed_on_4xx
    totals.retried_503 += tally.retried_503
    print(f"\nfuzz {name}: {tally.line()}")


# --- what the fuzz found, kept as plain examples ------------------------------------------------

FOUND = [
    # a date whose UTC time, or the 90-day window around it, falls outside Python's years 1-9999
    FuzzRequest("GET", "/open311/v2/requests.json?end_date=0001-01-01T00%3A00%3A00%2B14%3A00"),
    FuzzRequest("GET", "/open311/v2/requests.json?start_date=9999-12-31T23%3A59%3A59Z"),
    FuzzRequest("GET", "/open311/v2/requests.json?end_date=0001-01-02T00%3A00%3A00Z"),
    # NUL, which PostgreSQL refuses in text: a "database unavailable" 503, retried for ever
    FuzzRequest("GET", "/open311/v2/requests.json?service_code=wa%00ter"),
    FuzzRequest("GET", "/open311/v2/requests.json?service_request_id=R-%00"),
    FuzzRequest("GET", "/open311/v2/requests/R-%00.json"),
    FuzzRequest("GET", "/open311/v2/services/wa%00ter.json"),
    FuzzRequest("POST", "/open311/v2/requests.json", {"content-type": FORM},
                f"api_key={API_KEY}&service_code=water&address_string=kondele"
                "&description=a%00b".encode()),
    FuzzRequest("POST", "/open311/v2/requests.json", {"content-type": FORM},
                f"api_key={API_KEY}%00&service_code=water&address_string=kondele".encode()),
    FuzzRequest("POST", "/ussd/africastalking/events", {"content-type": FORM},
                b"sessionId=ATUid_nul1&serviceCode=%2A384%2A1%23&status=Failed"
                b"&errorMessage=time%00out"),
    FuzzRequest("POST", "/ussd/africastalking/events", {"content-type": FORM},
                b"sessionId=ATUid_nul2&serviceCode=%2A384%00%23&status=Success&cost=KES%00"),
    FuzzRequest("POST", "/ussd/africastalking/events", {"content-type": FORM},
                b"sessionId=ATUid_nul3&serviceCode=%2A384%2A1%23&status=Success"
                b"&lastAppResponse=END%00Thanks&networkCode=639%0002"),
    FuzzRequest("POST", "/sms/africastalking/delivery", {"content-type": FORM},
                f"id={SENT['africastalking']}&status=Failed&failureReason=Black%00listed"
                "&phoneNumber=%2B254711000088".encode()),
    FuzzRequest("POST", "/staff/login", {"content-type": FORM},
                b"email=%00&password=x&csrf_token=t", cookies={"gw_login_csrf": "t"}),
    # a file in the login form: its temporary file was never closed
    FuzzRequest("POST", "/staff/login",
                {"content-type": "multipart/form-data; boundary=b"},
                b'--b\r\nContent-Disposition: form-data; name="email"; filename="x"\r\n\r\n'
                b"x\r\n--b--\r\n"),
]


@pytest.mark.parametrize("request_", FOUND, ids=lambda r: r.url[:60])
def test_what_the_fuzz_found_is_answered_below_500_and_a_4xx_changes_nothing(
    request_, target
) -> None:
    watched, _, _ = target
    seen = watched.send(request_)
    assert_answered_well(request_, seen)
    assert change_on_refusal(request_, seen) is None
