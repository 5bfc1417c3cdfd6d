"""No raw phone number in logs, result tables, exports or Redis: whole sessions, every path.

One citizen's number is used in every shape a provider may send it (`+2547…`, `2547…`, `07…`);
the tests look for its national digits, which every shape contains, everywhere the gateway
writes: every log record of every logger at DEBUG (SQL statements and their parameters
included), every SQL table, the CSV and JSON exports, every Redis key and value, and the
stderr of a real `gateway web` process (uvicorn's access log included).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from conftest import REPO, environ_for_tests
from sqlalchemy import Engine, select
from sqlmodel import SQLModel
from starlette.testclient import TestClient
from ussd_support import BUDGET, Citizen, hop_form

from gateway import results
from gateway.app import create_app
from gateway.phone import pseudonym
from gateway.runs import drain_outbox, sweep_expired

DIGITS = "722987654"  # what every shape of the number below contains
SHAPES = ("+254722987654", "254722987654", "0722987654", "0722 987 654")
E164 = "+254722987654"
MASKED = "+2547******54"
LOGGERS = ("", "gateway", "uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy",
           "sqlalchemy.engine", "redis", "httpx", "rq", "alembic")


def all_rows(engine: Engine) -> list[str]:
    """Every value of every row of every table, as text."""
    with engine.connect() as connection:
        return [
            repr(tuple(row))
            for table in SQLModel.metadata.sorted_tables
            for row in connection.execute(select(table))
        ]


def redis_contents(redis_sync) -> str:
    parts = []
    for key in redis_sync.keys("*"):
        kind = redis_sync.type(key)
        if kind == b"string":
            value = redis_sync.get(key)
        elif kind == b"list":
            value = redis_sync.lrange(key, 0, -1)
        elif kind == b"zset":
            value = redis_sync.zrange(key, 0, -1)
        else:
            value = kind
        parts.append(f"{key!r} {value!r}")
    return "\n".join(parts)


def complete_the_poll(citizen: Citizen) -> str:
    citizen.dial()
    for typed in ["1", "1", "abc", "2", "3", "0"]:  # "abc" is a wrong age band, re-prompted
        citizen.type(typed)
    return citizen.type("1")


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_a_citizens_number_never_reaches_logs_tables_exports_or_redis(
    client, settings, redis_sync, db_engine, everything_logged, monkeypatch
):
    runtime = client.app.state.runtime
    # A completed poll, dialled with the national shape; replayed once by the provider.
    citizen = Citizen(client, phone=SHAPES[2])
    assert complete_the_poll(citizen).startswith("END Thank you!")
    assert citizen._post("*".join(citizen.typed)).startswith("END Thank you!")
    # AT's end-of-session notification, with the number as AT writes it.
    event = {"sessionId": citizen.session_id, "serviceCode": BUDGET, "phoneNumber": SHAPES[0],
             "status": "Success", "durationInMillis": "30000", "hopsCount": "8"}
    assert client.post("/ussd/africastalking/events", data=event).text == "ok"
    # The same citizen (another shape of the number) drops a survey after one answer.
    dropped = Citizen(client, phone=SHAPES[1], code="*384*3#")
    dropped.dial()  # English is remembered: no picker
    assert dropped.type("2").startswith("CON Why not?")  # did not visit; then the call drops
    # An unknown service code, and a crash inside a hop (the citizen gets the apology).
    assert client.post("/ussd/africastalking",
                       data=hop_form("ATUid_x", SHAPES[3], "", code="*999#")).status_code == 200

    def crash(*args, **kwargs):
        raise RuntimeError("engine bug")

    with monkeypatch.context() as patched:
        patched.setattr("gateway.hop.engine.resume", crash)
        crashed = Citizen(client, phone=SHAPES[0])
        crashed.dial()
        assert crashed.type("1").startswith("END Sorry, something went wrong.")
    # Redis down: the 503 path logs too.
    down = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(down)) as down_client:
        response = down_client.post("/ussd/africastalking", data=hop_form("ATUid_d", E164, ""))
        assert response.status_code == 503
    # The worker's part: the dropped survey and the crashed poll expire as incomplete runs.
    assert sweep_expired(redis_sync, time.time() + 3600, 600) == 2
    assert drain_outbox(runtime.redis_sync, db_engine) == 3
    exports = []
    for fmt in ("csv", "json"):
        out = io.StringIO()
        assert results.main(settings, "budget", fmt, out=out) == 0
        exports.append(out.getvalue())

    logged = everything_logged.text + "".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in everything_logged.records
    )
    rows = all_rows(db_engine)
    assert DIGITS not in logged
    assert DIGITS not in "\n".join(rows)
    assert DIGITS not in "\n".join(exports)
    assert DIGITS not in redis_contents(redis_sync)
    # ...and the checks looked at something real: numbers masked in logs, rows keyed by pseudonym.
    assert f"ussd hop from {MASKED} failed" in logged
    assert "INSERT INTO flow_run" in logged  # SQL and its parameters were captured
    contact = pseudonym(E164, settings.secret_key)
    assert len(rows) == 5  # 3 runs, 1 contact, 1 session record: each keyed by the pseudonym
    assert all(contact in row for row in rows)
    assert contact in exports[0] and "water_kiosks" in exports[0]
    assert json.loads(exports[1])[0]["contact"] == contact


@pytest.mark.slow
def test_gateway_web_logs_mask_the_number_even_in_a_url(redis_url, redis_sync, tmp_path):
    """The real process: our logging set-up on uvicorn's loggers, access log included."""
    port = _free_port()
    env = {**os.environ, **environ_for_tests(
        redis_url=redis_url, database_url=f"sqlite:///{tmp_path}/gw.db", var_dir=tmp_path / "var"),
        "GATEWAY_APP_PORT": str(port)}
    subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade"], cwd=REPO, env=env,
                   check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "gateway", "web"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", process)
        text = ""
        for typed in ["", "1", "1", "2", "3", "0", "1"]:
            text = f"{text}*{typed}" if text else typed
            form = hop_form("ATUid_web", SHAPES[2], text)
            reply = httpx.post(f"{base}/ussd/africastalking", data=form, timeout=5).text
        assert reply.startswith("END Thank you!")
        # a provider (or a curious operator) putting the number in the query string
        httpx.post(f"{base}/ussd/africastalking?phoneNumber={E164}", data={"x": "1"}, timeout=5)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=15)
    assert '"POST /ussd/africastalking HTTP/1.1" 200' in output  # the access log is on
    assert "phoneNumber=" in output and "2547******54" in output
    assert DIGITS not in output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gateway web exited early:\n{process.communicate()[0]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout} s")
