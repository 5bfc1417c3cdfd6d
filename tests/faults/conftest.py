"""Processes for the fault tests: the emulator, `gateway worker`, a private Redis to restart.

Everything runs as a real subprocess, so `kill -9` and a Redis restart are the real thing. The
emulator's JSONL file is the count of what reached "the provider", whoever sent it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REPO, TEST_SECRET_KEY
from outbox_support import fresh_number, jsonl
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from gateway.config import Settings
from gateway.crypto import decrypt_number
from gateway.embedded_redis import redis_answers, redis_server_binary
from gateway.emulator.client import EmulatorClient
from gateway.models import OutboundMessage
from gateway.outbox import NewMessage, queue_message, queue_messages
from gateway.phone import pseudonym

FINAL = ("sent", "delivered", "failed", "unknown")


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
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


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

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


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
    import httpx

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


def nth_message(engine: Engine, n: int) -> tuple[int, str]:
    """The id and number of the n-th message queued (0-based)."""
    with Session(engine) as session:
        row = session.exec(select(OutboundMessage).order_by(OutboundMessage.id).offset(n)).first()
    assert row is not None and row.id is not None
    return row.id, decrypt_number(row.number_encrypted, TEST_SECRET_KEY)


def status_of(engine: Engine, message_id: int) -> str | None:
    with Session(engine) as session:
        row = session.get(OutboundMessage, message_id)
        return row.status if row else None


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


def queue_all(
    settings: Settings, engine: Engine, redis_sync: redis.Redis, *, bulk: int, replies: int,
    providers: tuple[str, ...],
) -> int:
    """`bulk` messages (one text: Africa's Talking sends a batch in one call) in batch jobs and
    `replies` one job each, per provider; each message to its own number, so the emulator's
    record counts each one. Returns how many were queued."""
    key = settings.secret_key
    with Session(engine) as session:
        for provider in providers:
            numbers = [fresh_number() for _ in range(bulk)]
            queue_messages(session, redis_sync, settings, [
                NewMessage(pseudonym(n, key), n, provider, "Budget poll: reply KURA to vote")
                for n in numbers
            ])
            for i in range(replies):
                number = fresh_number()
                queue_message(session, redis_sync, settings,
                              contact_pseudonym=pseudonym(number, key), number_e164=number,
                              provider=provider, text=f"Reply {i}", kind="reply")
    return (bulk + replies) * len(providers)
