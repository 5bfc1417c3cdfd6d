"""Browser tests: the real gateway on a real port, driven by Debian's Chromium through Playwright.

What a test gets (`live`):
- the gateway (`create_app(settings)` under uvicorn, on a thread) with the real Redis and a
  migrated SQLite database (one backend is enough here; the HTTP tests cover both);
- the provider emulator, which both providers send to and which posts delivery reports back to
  the gateway (so the gateway's port is reserved first, then the emulator started, then the
  gateway served on the reserved socket);
- RQ's worker, run on demand (`live.work()`, burst mode, in-process: no fork beside the
  server's and Playwright's threads), and the runs drain (`live.drain()`);
- staff accounts: ADMIN and ANALYST, password staff_support.PASSWORD;
- `live_environ`: extra GATEWAY_* settings for the gateway (none by default); a test module
  overrides the fixture to change one, e.g. a shorter [staff] live_refresh_seconds.

Chromium is /usr/bin/chromium (`apt-get install chromium`; `make test` installs it). Missing:
the tests skip, unless CI is set, when they fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from conftest import empty_tables, in_ci
from outbox_support import outbox_environ
from playwright.sync_api import Browser, Page, sync_playwright
from rq import SimpleWorker
from sqlalchemy import Engine
from staff.staff_support import add_staff
from starlette.types import ASGIApp

from gateway import outbox
from gateway.app import create_app
from gateway.areas import load_tree
from gateway.config import Settings, load_settings
from gateway.emulator.server import running
from gateway.emulator.state import EmulatorConfig
from gateway.reports.service import Filing, ReportContext
from gateway.runs import drain_outbox
from gateway.runtime import load_content

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ADMIN = "ann@county.go.ke"
ANALYST = "abe@county.go.ke"
QUEUES = ["high", "default", "low"]
START_SECONDS = 10.0


@dataclass
class Live:
    """A running gateway and emulator, and the levers a browser test needs around them."""

    url: str
    emulator_url: str
    settings: Settings
    engine: Engine
    redis: redis.Redis
    filing: Filing

    def work(self) -> None:
        """Run every queued job (SMS sends) to the end, as `gateway worker` would. The jobs'
        Sender is built from this test's environment (it is cached per process: an earlier
        test's would send to that test's emulator, long gone)."""
        outbox._sender_for_process.cache_clear()
        try:
            SimpleWorker(QUEUES, connection=self.redis).work(burst=True)
        finally:
            outbox._sender_for_process.cache_clear()

    def drain(self) -> int:
        """Move finished runs from Redis to SQL (filing reports), as the worker's runs loop
        does every second."""
        return drain_outbox(self.redis, self.engine, reports=self.filing)

    def dial(self, code: str, phone: str, inputs: list[str]) -> str:
        """A citizen's whole USSD session through the emulator (as Africa's Talking would post
        it); the last screen, CON/END included."""
        session, screen = None, ""
        for hop in range(len(inputs) + 1):
            answer = httpx.post(f"{self.emulator_url}/emulator/ussd", timeout=10, json={
                "code": code, "phone": phone, "text": "*".join(inputs[:hop]), "session": session})
            answer.raise_for_status()
            session, screen = answer.json()["id"], answer.json()["body"]
        return screen

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """What the emulator accepted (GET /emulator/messages), after running the queue."""
        self.work()
        params = {"to": to} if to else {}
        found = httpx.get(f"{self.emulator_url}/emulator/messages", params=params, timeout=5)
        found.raise_for_status()
        return found.json()["messages"]


@pytest.fixture
def live_environ() -> dict[str, str]:
    """Settings the live gateway gets on top of the tests' (environment variable names)."""
    return {}


@pytest.fixture
def live(redis_url: str, redis_sync: redis.Redis, _plain_sqlite: tuple[str, Engine],
         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         live_environ: dict[str, str]) -> Iterator[Live]:
    database_url, engine = _plain_sqlite
    empty_tables(engine)
    add_staff(database_url, ADMIN, "admin")
    add_staff(database_url, ANALYST, "analyst")
    sock = _reserve_port()
    gateway_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    environ = {"redis_url": redis_url, "database_url": database_url, "var_dir": tmp_path / "var"}
    base = load_settings(outbox_environ(**environ, emulator_url="http://x"))
    config = EmulatorConfig.from_settings(
        base, messages_path=tmp_path / "emulator" / "sent.jsonl", gateway_url=gateway_url,
        report_delay_seconds=0)
    with running(config) as emulator_url:
        env = {**outbox_environ(**environ, emulator_url=emulator_url), **live_environ}
        for key, value in env.items():  # the worker's jobs read the environment
            monkeypatch.setenv(key, value)
        settings = load_settings(env)
        with _Serving(create_app(settings), sock):
            yield Live(gateway_url, emulator_url, settings, engine, redis_sync, _filing(settings))


def _filing(settings: Settings) -> Filing:
    """How the worker turns finished report runs into reports (gateway.worker.report_filing)."""
    flows, texts = load_content(settings)
    context = ReportContext(settings, texts, load_tree(settings.reports.areas_file or None))
    return Filing.of(context, flows)


def _reserve_port() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _Serving:
    """uvicorn on an already bound socket, in a thread (gateway.emulator.server's way)."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self.sock = sock
        self.server = uvicorn.Server(uvicorn.Config(
            app, log_config=None, ws="none", lifespan="on", timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    def __enter__(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(START_SECONDS)
        self.sock.close()


@pytest.fixture(scope="package")  # closed after tests/browser: its loop must not outlive them
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (or `make test`)"
        if in_ci():
            pytest.fail(f"{message}; CI is set, so browser tests must run", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at a laptop's size, on the live gateway."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1100, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()

