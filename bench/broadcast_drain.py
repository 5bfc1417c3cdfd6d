"""One measured broadcast: seed, launch (timed), drain with K `gateway worker`s to the emulator,
and count what the emulator recorded; replies to citizens queued while it drains.

The workers start first, with RQ suspended (`rq suspend`), so the launch is timed with the
deployment shape running idle and every worker starts on the same signal. The drain rate is
measured from the first claim (a worker taking the first invites to send, `claimed_at`) to the
last invite the emulator recorded (its own timestamp; both clocks are this machine's).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from broadcast_data import (
    INVITE,
    Contacts,
    Launched,
    clean,
    first_claim,
    launch_invite,
    replies_unsettled,
    reply_number,
    seed,
    statuses,
    unsettled,
)
from broadcast_stack import Stack, Workers, log, wait_for
from redis import Redis
from rq import Queue
from rq.suspension import resume, suspend
from sqlalchemy import Engine
from sqlmodel import Session

from gateway.channels.africastalking import sms_service
from gateway.config import Settings
from gateway.outbox import queue_message
from gateway.phone import pseudonym

REPLY_TEXT = "Asante! Your answer was saved."
QUEUES = ("high", "default", "low")
POLL_SECONDS = 0.25
SUSPEND_TTL_SECONDS = 900  # a bench that dies leaves RQ suspended no longer than this


@dataclass
class Drained:
    recipients: int
    workers: int
    launched: Launched
    first_to_last: float  # seconds from the first claim to the last invite the emulator recorded
    since_resume: float  # seconds from releasing the workers to the last invite recorded
    received: Counter[str]  # invites recorded per recipient number
    statuses: dict[str, int]
    cpu_seconds: float  # the workers' CPU while draining
    peak_rss: int  # bytes, the largest worker (or work horse)
    reply_delays: list[float] = field(default_factory=list)  # queued -> recorded, seconds
    calls: int | None = None  # Africa's Talking send requests the emulator took (replies too)

    @property
    def rate(self) -> float:
        sent = sum(self.received.values())
        return sent / self.first_to_last if self.first_to_last > 0 else 0.0

    def exactly_once(self, expected: list[str]) -> dict[str, int]:
        wanted = set(expected)
        return {
            "sent": sum(self.received.values()),
            "unique": len(self.received),
            "lost": sum(1 for n in wanted if self.received[n] == 0),
            "doubled": sum(1 for n, c in self.received.items() if c > 1),
            "strangers": sum(1 for n in self.received if n not in wanted),
        }

    def figure(self, expected: list[str]) -> str:
        found = " ".join(f"{k}={v}" for k, v in self.exactly_once(expected).items())
        replies = f" replies={len(self.reply_delays)}" if self.reply_delays else ""
        return found + replies + (f" at_calls={self.calls}" if self.calls is not None else "")


@dataclass
class Bench:
    stack: Stack
    settings: Settings
    engine: Engine
    redis: Redis
    contacts: Contacts
    worker_env: dict[str, str]

    @contextmanager
    def workers(self, count: int) -> Iterator[Workers]:
        """`count` `gateway worker` processes for the drains inside the block."""
        running = Workers.start(count, self.worker_env,
                                self.stack.directory / f"workers-{count}", self.redis)
        log(f"{count} worker(s) ready")
        try:
            yield running
        finally:
            resume(self.redis)
            running.stop()
            log(f"{count} worker(s) stopped")

    def drain(self, running: Workers, recipients: int, *, replies: int = 0,
              expected_rate: float = 2000.0) -> Drained:
        """Seed, launch (timed, with RQ suspended), then release the workers and wait until
        every invite is settled; count what the emulator recorded."""
        workers = len(running.processes)
        log(f"seeding {recipients} contacts")
        clean(self.engine)
        seed(self.engine, self.contacts, recipients)
        reset_emulator(self.stack.emulator_url)
        suspend(self.redis, SUSPEND_TTL_SECONDS)
        try:
            launched = launch_invite(self.engine, self.redis, self.settings)
            log(f"{recipients} invites enqueued in {launched.seconds:.2f} s "
                f"({launched.jobs} jobs); draining with {workers} worker(s)")
            cpu_before = running.cpu_seconds()
            released = time.time()
            resume(self.redis)
            pacer = ReplyPacer(self, replies, recipients / expected_rate) if replies else None
            wait_for(lambda: self.drained(launched.broadcast_id), max(120.0, recipients / 100),
                     "the broadcast to drain", every=POLL_SECONDS)
            cpu = running.cpu_seconds() - cpu_before
            peak = running.peak_rss_bytes()
            delays_queued = pacer.finish() if pacer else {}
        finally:
            resume(self.redis)
        recorded = emulator_messages(self.stack.emulator_url)
        calls = emulator_calls(self.stack.emulator_url)
        invites = [m for m in recorded if m["text"] == INVITE]
        last = max((_seconds(m["time"]) for m in invites), default=None)
        first = first_claim(self.engine, launched.broadcast_id)
        by_number = {m["to"]: _seconds(m["time"]) for m in recorded if m["text"] == REPLY_TEXT}
        return Drained(
            recipients, workers, launched,
            first_to_last=(last - first) if last and first else 0.0,
            since_resume=(last - released) if last else 0.0,
            received=Counter(m["to"] for m in invites),
            statuses=statuses(self.engine, launched.broadcast_id),
            cpu_seconds=cpu, peak_rss=peak,
            reply_delays=[by_number[n] - queued for n, queued in delays_queued.items()
                          if n in by_number],
            calls=calls,
        )

    def drained(self, broadcast_id: int) -> bool:
        """No job left in RQ's queues or running, and then none of the broadcast's messages
        waiting or being sent. Redis is asked first: counting 100,000 rows in SQL several
        times a second would slow the database the drain is measured on."""
        queues = [Queue(name, connection=self.redis) for name in QUEUES]
        if any(q.count or q.started_job_registry.count for q in queues):
            return False
        return unsettled(self.engine, broadcast_id) == 0

    def replies_alone(self, running: Workers, count: int, interval: float) -> list[float]:
        """The delays of `count` replies with idle workers and no broadcast (the baseline)."""
        clean(self.engine)
        reset_emulator(self.stack.emulator_url)
        queued = {}
        for index in range(count):
            queued.update(self.queue_reply(1_000_000 + index))
            time.sleep(interval)
        wait_for(lambda: replies_unsettled(self.engine) == 0, 60, "the replies",
                 every=POLL_SECONDS)
        by_number = {m["to"]: _seconds(m["time"])
                     for m in emulator_messages(self.stack.emulator_url)}
        return [by_number[n] - at for n, at in queued.items() if n in by_number]

    def queue_reply(self, index: int) -> dict[str, float]:
        """A reply to a citizen, the way a conversation queues one ("reply", priority high)."""
        number = reply_number(index)
        at = time.time()
        with Session(self.engine) as session:
            queue_message(session, self.redis, self.settings,
                          contact_pseudonym=pseudonym(number, self.settings.secret_key),
                          number_e164=number, provider="africastalking", text=REPLY_TEXT,
                          kind="reply", dedupe_key=f"bench-reply:{index}")
        return {number: at}


class ReplyPacer:
    """Queues `count` replies spread over `seconds` on a thread, while a broadcast drains."""

    def __init__(self, bench: Bench, count: int, seconds: float) -> None:
        self.bench, self.count = bench, count
        self.interval = max(0.01, 0.6 * seconds / count)
        self.queued: dict[str, float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="replies", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for index in range(self.count):
            if self.stopping.wait(self.interval):
                return
            self.queued.update(self.bench.queue_reply(index))

    def finish(self) -> dict[str, float]:
        """Stop queueing; wait until every reply queued reached the emulator."""
        self.stopping.set()
        self.thread.join()
        wait_for(lambda: replies_unsettled(self.bench.engine) == 0, 60, "the replies",
                 every=POLL_SECONDS)
        return self.queued


def sdk_baseline(settings: Settings, count: int, batch: int) -> float:
    """SMS/s the emulator takes from one process calling the africastalking SDK directly with
    the same batched calls (no queue, no database, no encryption): what sending costs alone."""
    service = sms_service(settings)
    numbers = [f"+2549{i:08d}" for i in range(count)]
    started = time.perf_counter()
    for start in range(0, count, batch):
        service.send(INVITE, numbers[start:start + batch], timeout=30)
    return count / (time.perf_counter() - started)


def reset_emulator(url: str) -> None:
    httpx.delete(url + "/emulator/messages", timeout=60).raise_for_status()


def emulator_messages(url: str) -> list[dict]:
    answer = httpx.get(url + "/emulator/messages", timeout=120)
    answer.raise_for_status()
    return answer.json()["messages"]


def emulator_calls(url: str) -> int | None:
    """Africa's Talking send requests since the last reset (None: an emulator without the
    count)."""
    answer = httpx.get(url + "/emulator/calls", timeout=10)
    return answer.json().get("africastalking") if answer.status_code == 200 else None


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(share * 1000) - 1]


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
