"""Processes for the fault tests: the emulator, `gateway web` and `gateway worker`, a private
Redis to restart, and a TCP proxy in front of PostgreSQL to cut.

Everything runs as a real subprocess, so `kill -9` and a Redis restart are the real thing. The
emulator's JSONL file is the count of what reached "the provider", whoever sent it. The tests
run on PostgreSQL, production's database (and the one a proxy can cut).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis
from conftest import REPO, TEST_SECRET_KEY
from outbox_support import fresh_number, jsonl, outbox_environ
from sqlalchemy import Engine, func, insert, make_url
from sqlmodel import Session, select

from gateway.broadcasts import launch
from gateway.broadcasts.audience import Audience
from gateway.config import Settings
from gateway.crypto import decrypt_number, encrypt_number
from gateway.embedded_redis import redis_answers, redis_server_binary
from gateway.emulator.client import EmulatorClient
from gateway.models import Contact, OutboundMessage
from gateway.outbox import queue_message
from gateway.phone import pseudonym

from .tcp_proxy import TcpProxy

FINAL = ("sent", "delivered", "failed", "unknown")
INVITE = "Budget poll: dial *384*1# or reply KURA to vote. Reply STOP to opt out."
NOWHERE = "http://127.0.0.1:9"  # the providers' URL for a test that starts no emulator


@pytest.fixture(scope="session", params=["postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: the guarantees are production's, and a full run of these tests on both
    backends would cost CI minutes for little (SQLite's own tests are in the main suite)."""
    return request.param


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (RQ's work horse is in its own process group)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def kill_tree(self) -> int:
        """`kill -9` the process and everything it started (work horse, scheduler)."""
        victims = [self.popen.pid, *descendants(self.popen.pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait(10)
        return len(victims)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill_tree()
        for pid in descendants(self.popen.pid):  # orphans of a killed parent, if any
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Processes:
    """Started processes, all stopped at the end of the test."""

    directory: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.directory / f"{name}-{len(self.started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "gateway", *args], cwd=REPO,
                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(popen, log)
        self.started.append(process)
        return process

    def worker(self, env: dict[str, str]) -> Process:
        return self.start("worker", ["worker"], env)

    def web(self, env: dict[str, str]) -> Web:
        """`gateway web` (uvicorn, as in the Procfile) on a free port, once it answers."""
        port = free_port()
        process = self.start("web", ["web"], {**env, "GATEWAY_APP_PORT": str(port)})
        web = Web(f"http://127.0.0.1:{port}", process)
        wait_for(web.answers, 30, "gateway web")
        return web

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@dataclass
class Web:
    """A running `gateway web`, posted to as the providers would."""

    url: str
    process: Process

    def answers(self) -> bool:
        if self.process.popen.poll() is not None:
            raise AssertionError(f"gateway web exited; see {self.process.log}")
        try:
            httpx.get(self.url + "/healthz", timeout=1.0)
        except httpx.HTTPError:
            return False
        return True

    def post(self, path: str, form: dict[str, str], *, timeout: float = 10.0,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """One webhook, on its own connection (as a provider's retry would come)."""
        return httpx.post(self.url + path, data=form, headers=headers, timeout=timeout)

    def metric(self, name: str, **labels: str) -> float:
        """A counter's value from /metrics (0 when it has not been counted yet)."""
        text = httpx.get(self.url + "/metrics", timeout=5.0).text
        wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
        line = f"{name}_total{{{wanted}}} " if wanted else f"{name}_total "
        for row in text.splitlines():
            if row.startswith(line):
                return float(row[len(line):])
        return 0.0


def fault_environ(
    *, redis_url: str, database_url: str, tmp_path: Path, emulator_url: str = NOWHERE,
    **outbox: Any,
) -> dict[str, str]:
    """The environment of the gateway processes of a fault test: quick sweeps and leases, so
    what a fault leaves behind is settled within seconds, and throttles that do not dominate."""
    quick = {"batch_size": 100, "sweep_interval_seconds": 0.5, "sweep_after_seconds": 2,
             "send_lease_seconds": 4, "twilio_per_second": 500,
             "africastalking_per_second": 5000, **outbox}
    env = outbox_environ(redis_url=redis_url, database_url=database_url,
                         var_dir=tmp_path / "var", emulator_url=emulator_url, **quick)
    env["GATEWAY_RUNS_DRAIN_INTERVAL_SECONDS"] = "0.2"
    return env


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@dataclass
class Emulator:
    url: str
    messages: Path

    def sent(self) -> list[dict]:
        return jsonl(self.messages)

    def fault(self, kind: str, **options: Any) -> None:
        with EmulatorClient(self.url) as client:
            client.fault(kind, **options)

    def holding(self, number: str) -> bool:
        """The call carrying `number` has arrived and its fault taken: a "slow" one is now
        being held by the emulator."""
        with EmulatorClient(self.url) as client:
            return all(fault.get("to") != number for fault in client.faults())


@pytest.fixture
def emulator(processes: Processes, tmp_path: Path) -> Emulator:
    port = free_port()
    messages = tmp_path / "emulator" / "messages.jsonl"
    env = {"GATEWAY_SETTINGS": str(REPO / "settings.toml"),
           "GATEWAY_APP_VAR_DIR": str(tmp_path / "emulator-var")}
    processes.start("emulator", ["emulator", "--port", str(port), "--messages", str(messages),
                                 "--no-reports"], env)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(url), 15, "the emulator")
    return Emulator(url, messages)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/emulator/messages", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class PrivateRedis:
    """A redis-server of our own on its own port: restarting it disturbs no one else."""

    directory: Path
    port: int
    appendonly: bool
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--daemonize", "no", "--save", "",
            "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        wait_for(lambda: redis_answers(self.url, 0.2), 10, "the private Redis")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no final save; only what the AOF already holds survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[..., PrivateRedis]]:
    servers: list[PrivateRedis] = []

    def start(*, appendonly: bool = True) -> PrivateRedis:
        directory = tmp_path / f"redis-{len(servers)}"
        directory.mkdir()
        server = PrivateRedis(directory, free_port(), appendonly)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def database_proxy(database_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A TCP proxy in front of the test's PostgreSQL database, and the URL through it."""
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
    finally:
        proxy.close()


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        ).all()
    return Counter(dict(rows))


def all_settled(engine: Engine, total: int) -> bool:
    counts = statuses(engine)
    return sum(counts[s] for s in FINAL) == total


@dataclass
class Figures:
    sent: int
    unique: int
    lost: int
    doubled: int
    unknown: int

    def __str__(self) -> str:
        return (f"sent={self.sent} unique={self.unique} lost={self.lost} "
                f"doubled={self.doubled} unknown={self.unknown}")


def figures(engine: Engine, emulator: Emulator) -> tuple[Figures, set[str], set[str]]:
    """What reached the emulator against the outbox: by number (each message has its own)."""
    reached = Counter(m["to"] for m in emulator.sent())
    with Session(engine) as session:
        rows = session.exec(select(OutboundMessage)).all()
    numbers = {decrypt_number(r.number_encrypted, TEST_SECRET_KEY): r for r in rows}
    lost = {n for n in numbers if reached[n] == 0}
    unknown = {n for n, r in numbers.items() if r.status == "unknown"}
    doubled = sum(1 for n in numbers if reached[n] > 1)
    return (Figures(sum(reached.values()), len(reached), len(lost), doubled, len(unknown)),
            lost, unknown)


def seed_contacts(engine: Engine, settings: Settings, providers: dict[str, int]) -> list[str]:
    """Contacts who texted us before (so we hold their encrypted number), `providers[p]` of each
    provider; returns their numbers in the order they were added."""
    now = datetime.now(UTC)
    numbers, rows = [], []
    for provider, count in providers.items():
        for _ in range(count):
            number = fresh_number()
            numbers.append(number)
            rows.append({"pseudonym": pseudonym(number, settings.secret_key),
                         "number_encrypted": encrypt_number(number, settings.secret_key),
                         "channel": provider, "language": "en", "opted_out": False,
                         "tags": [], "created_at": now, "updated_at": now})
    with Session(engine) as session:
        session.execute(insert(Contact), rows)
        session.commit()
    return numbers


def launch_broadcast(
    engine: Engine, redis_sync: redis.Redis, settings: Settings, text: str = INVITE
) -> int:
    """Send the budget poll's invite to every contact now, as the staff launch page does:
    `create` in a transaction, commit, then `after_commit` enqueues the send jobs."""
    draft = launch.Draft("budget", text, Audience(), token=uuid.uuid4().hex)
    with Session(engine, expire_on_commit=False) as session:
        created = launch.create(session, settings, draft, "ann@county.go.ke")
        session.commit()
    launch.after_commit(redis_sync, settings, created)
    assert created.broadcast.id is not None
    return created.broadcast.id


def queue_replies(
    engine: Engine, redis_sync: redis.Redis, settings: Settings, count: int, provider: str
) -> list[str]:
    """`count` replies to citizens (high priority, one job each), each to its own number."""
    numbers = [fresh_number() for _ in range(count)]
    with Session(engine) as session:
        for i, number in enumerate(numbers):
            queue_message(session, redis_sync, settings,
                          contact_pseudonym=pseudonym(number, settings.secret_key),
                          number_e164=number, provider=provider, text=f"Reply {i}",
                          kind="reply")
    return numbers
