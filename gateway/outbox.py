"""The outbound SMS queue: every message is a row first, then an RQ job carrying its id.

    queue_message ──> row "queued" (committed) ──> RQ job on "high" (replies) or "low" (bulk)
    send job ──> claim in SQL ("queued" -> "sending") ──> provider ──> "sent" | "failed" | "queued"
    sweeper (in `gateway worker`) ──> re-enqueues rows whose job is gone; reconciles old claims

What is guaranteed, and what is not:

- **A row is handed to the provider at most once per claim, and claimed only from "queued".**
  The claim is one conditional UPDATE (`... SET status='sending' WHERE id IN (...) AND
  status='queued'`), so two jobs for the same row (a retry, a sweeper re-enqueue, RQ running a
  job twice) cannot both send it: the second finds nothing to claim. A job retried after the
  provider accepted the message finds it "sent" and does nothing.
- **Nothing queued is lost while the database keeps the row.** If Redis is down when a message
  is queued, or loses its jobs (restart without persistence, FLUSHALL, a worker killed between
  taking a job and starting it), the row stays "queued"; the sweeper finds rows that waited
  longer than `outbox.sweep_after_seconds` without a live job and enqueues them again.
- **A send interrupted half-way is never resent blindly.** A row stays "sending" when the worker
  died during the provider call, or the provider's answer was lost (a read timeout). Once the
  claim is older than `outbox.send_lease_seconds` (which must exceed the provider timeout), the
  sweeper asks the provider (`lookup` in the channel module): found -> "sent" with its id; not
  found -> "queued" again (it never got there); the provider cannot tell (Africa's Talking has no
  such API) -> "unknown", logged, for a person to look at. So on Twilio a message is sent
  exactly once even through `kill -9` (as long as Twilio's message list shows what it
  accepted); on Africa's Talking a crash inside the provider call can leave its messages
  "unknown" (sent once or not at all, never twice). A later delivery report naming the
  recipient can still settle an "unknown" row (gateway.delivery).
- Transient errors (timeout, 429, 5xx) put the row back to "queued" and raise, so RQ's `Retry`
  runs the job again after `outbox.retry_intervals` (the worker runs RQ's scheduler). After
  `outbox.max_attempts` claims the row fails with the last reason. Permanent errors (invalid
  number, blacklisted, opted out) fail the row with the provider's reason; Twilio's 21610 also
  stops the contact.

Jobs are importable functions taking ids (`send_message`, `send_batch`). They build what they
need (settings from the environment, a database engine, a Redis client) once per process, in
the process that runs them, and reuse it for every later job (`gateway worker` runs jobs in its
own process). A forking RQ worker works too: a connection opened before a fork is never used
on both sides of it, because a forked work horse builds its own.

Cost per message matters for a 100,000-invite broadcast (bench/broadcast.py): a batch job reads
its rows, claims them and records their results with one statement each (on PostgreSQL the
per-row results travel as arrays), and Africa's Talking gets one HTTP call per job (per half
second of the throttle at low rates: `throttle.bulk_call_size`). The rows are found by primary
key only (`_status_is`), so a job costs the same in a broadcast of 1,000 or of 100,000.

Replies never wait behind bulk for the provider's throttle: replies reserve tokens, bulk takes
only what the bucket holds beyond a headroom kept for replies (gateway.throttle). A reply can
still wait for a worker to finish its current bulk job (`bulk_job_size`).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import ModuleType
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.queue import EnqueueData
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Connection, Engine, and_, bindparam, func, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, select

from gateway import contacts, throttle
from gateway.channels import africastalking, twilio
from gateway.channels.base import LookupUnsupported, OutgoingSms, SendResult, TransportError
from gateway.config import Settings, load_settings
from gateway.crypto import NumberDecryptionError, decrypt_number, encrypt_number
from gateway.db import make_engine
from gateway.delivery import opt_out
from gateway.models import OutboundMessage
from gateway.sms.encoding import analyse, prepare

log = logging.getLogger(__name__)

# The Twilio SDK imports its REST resources on first use (~70 ms). Importing them with this
# module, at the worker's start, spares the first reply that wait.
importlib.import_module("twilio.rest.api.v2010.account.message")

PROVIDERS = (africastalking.NAME, twilio.NAME)
KINDS = ("reply", "bulk", "notice")  # "notice" (the STOP confirmation) ignores opt-out
PRIORITIES = ("high", "low")
DEFAULT_PRIORITY = {"reply": "high", "notice": "high", "bulk": "low"}
SEND_MESSAGE = "gateway.outbox.send_message"
SEND_BATCH = "gateway.outbox.send_batch"
BATCH_JOB_TIMEOUT = 600  # seconds; a job killed by RQ mid-send leaves a claim the sweeper settles
FAILED_JOB_TTL = 7 * 86400
ENQUEUE_CHUNK = 200  # jobs per pipelined Redis transaction
BULK_JOB_SECONDS = 0.5  # a bulk job carries at most this long of its provider's throttle
SWEEP_LIMIT = 500  # rows looked at per sweep and state; the next sweep takes the rest
LIVE_JOB = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED}


class RetryLater(Exception):
    """A transient provider error: raised from a job so RQ's Retry runs it again later."""


# --- queueing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMessage:
    contact_pseudonym: str
    number_e164: str
    provider: str  # "africastalking" | "twilio"
    text: str
    kind: str = "bulk"  # "reply" | "bulk" | "notice"
    priority: str | None = None  # default: "high" for replies and notices, "low" for bulk
    dedupe_key: str | None = None  # a second message with the same key is not queued
    sender: str | None = None  # shortcode / sender id / our number; None: the provider default


def queue_message(
    session: Session,
    redis_sync: Redis,
    settings: Settings,
    *,
    contact_pseudonym: str,
    number_e164: str,
    provider: str,
    text: str,
    kind: str,
    priority: str | None = None,
    dedupe_key: str | None = None,
    sender: str | None = None,
) -> OutboundMessage:
    """Add the row, COMMIT the session, then enqueue its job (see `add_message`).

    The commit includes whatever else the caller has in `session`. If Redis refuses the job the
    row stays "queued" and the sweeper enqueues it later; nothing is raised.
    """
    new = NewMessage(contact_pseudonym, number_e164, provider, text, kind, priority,
                     dedupe_key, sender)
    earlier = _earlier(session, dedupe_key)
    if earlier is not None:
        return earlier  # queued (and enqueued) before: nothing more to do
    message = add_message(session, settings, new)
    jobs = plan_jobs([message])
    session.commit()
    enqueue_jobs(redis_sync, settings, jobs)
    return message


def queue_messages(
    session: Session, redis_sync: Redis, settings: Settings, messages: Iterable[NewMessage]
) -> list[OutboundMessage]:
    """Bulk: rows committed, then one `send_batch` job per `bulk_job_size` messages."""
    rows, groups = [], defaultdict(list)
    for new in messages:
        earlier = _earlier(session, new.dedupe_key)
        row = earlier or add_message(session, settings, new)
        rows.append(row)
        if earlier is None and row.status == "queued":
            groups[(row.provider, row.priority)].append(row)
    for (provider, _), members in groups.items():
        size = bulk_job_size(settings, provider)
        for start in range(0, len(members), size):
            job_id = f"sms-batch-{uuid.uuid4().hex}"
            for row in members[start:start + size]:
                row.job_id = job_id
                session.add(row)
    session.flush()
    jobs = plan_jobs(rows)  # read before the commit expires the rows
    session.commit()
    enqueue_jobs(redis_sync, settings, jobs)
    return rows


def bulk_job_size(settings: Settings, provider: str) -> int:
    """Messages per `send_batch` job: `outbox.batch_size`, but never more than
    BULK_JOB_SECONDS of the provider's throttle, so a worker is not tied up in one bulk job
    for long while replies to citizens wait (50/s: 25 a job, one Africa's Talking call, the
    same half second as `throttle.bulk_call_size`; an account allowed 1,000/s or more:
    batch_size, 500 by default, one call each).

    A reply waits for the first worker to finish its current job, so at most half a second at
    any rate. At high rates the job size is batch_size: bench/broadcast.py measured a reply's
    p99 at about 0.3 s with jobs of 250, 0.7 s with 500 and 1.5 s with 1,000 while 100,000
    invites drained, against 3,500, 3,800 and 4,000 invites/s (one run each, 4 workers on a
    busy 2-core machine): 500 keeps replies well under a second and most of the throughput.
    At 50/s, jobs of 100 (two seconds) made a reply wait up to 2 s for a worker; four times as
    many jobs of 25 cost nothing a 50/s drain would notice."""
    rate = _rate(settings, provider)
    return max(1, min(settings.outbox.batch_size, int(rate * BULK_JOB_SECONDS)))


def add_message(session: Session, settings: Settings, new: NewMessage) -> OutboundMessage:
    """Insert the row (flushed, not committed): text prepared, encoding, segments and cost.

    For a caller that commits its own transaction, then calls `enqueue`. A contact that opted out
    gets a row already "failed" with reason "opted out" (unless the kind is "notice"); a
    `dedupe_key` seen before returns the earlier row instead of a new one.
    """
    _check(new)
    earlier = _earlier(session, new.dedupe_key)
    if earlier is not None:
        return earlier
    opted_out = new.kind != "notice" and _opted_out(session, new.contact_pseudonym)
    message = OutboundMessage(**message_values(settings, new, opted_out=opted_out))
    session.add(message)
    session.flush()
    return message


def message_values(
    settings: Settings, new: NewMessage, *, opted_out: bool, number_encrypted: str | None = None
) -> dict[str, Any]:
    """The columns of `new`'s outbound_message row: text prepared, encoding, segments, cost;
    "failed" with reason "opted out" when `opted_out` (a notice is sent regardless).

    `number_encrypted`: the number already encrypted (the inbound SMS path has the contact's);
    by default `new.number_e164` is encrypted here."""
    text = prepare(new.text, transliterate=settings.sms.transliterate)
    encoding = analyse(text)
    if encoding.segments == 0:
        raise ValueError("an SMS needs some text")
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "contact_pseudonym": new.contact_pseudonym,
        "number_encrypted": number_encrypted or encrypt_number(new.number_e164,
                                                               settings.secret_key),
        "provider": new.provider,
        "sender": new.sender,
        "text": text,
        "kind": new.kind,
        "priority": new.priority or DEFAULT_PRIORITY[new.kind],
        "status": "queued",
        "encoding": encoding.encoding,
        "segments": encoding.segments,
        "cost_estimate": round(encoding.segments * segment_price(settings, new.provider), 6),
        "dedupe_key": new.dedupe_key,
        "created_at": now,
        "updated_at": now,
    }
    if opted_out and new.kind != "notice":
        values.update(status="failed", failure_reason="opted out")
    return values


def segment_price(settings: Settings, provider: str) -> float:
    """[outbox] <provider>_segment_price, in [outbox] <provider>_currency."""
    return float(getattr(settings.outbox, f"{provider}_segment_price"))


@dataclass(frozen=True)
class JobPlan:
    """One RQ job to enqueue: `send_message(ids[0])`, or `send_batch(ids)` when `batch`."""

    job_id: str
    priority: str
    ids: tuple[int, ...]
    batch: bool


def plan_jobs(messages: Iterable[OutboundMessage]) -> list[JobPlan]:
    """The jobs carrying the rows still "queued" (flushed rows: they need their ids).

    Rows sharing a `job_id` go in one `send_batch` job; a row without one gets its own
    `send_message` job "sms-{id}".
    """
    groups: dict[str, list[OutboundMessage]] = {}
    for message in messages:
        if message.status == "queued" and message.id is not None:
            groups.setdefault(job_key(message), []).append(message)
    return [
        JobPlan(job_id, rows[0].priority, tuple(r.id for r in rows if r.id is not None),
                batch=rows[0].job_id is not None)
        for job_id, rows in groups.items()
    ]


def enqueue(redis_sync: Redis, settings: Settings, messages: Sequence[OutboundMessage]) -> int:
    """Enqueue the jobs of rows the caller has committed; see `enqueue_jobs`."""
    return enqueue_jobs(redis_sync, settings, plan_jobs(messages))


def enqueue_jobs(redis_sync: Redis, settings: Settings, jobs: Sequence[JobPlan]) -> int:
    """Enqueue `jobs`, in order; returns how many Redis took. Redis errors are logged, not
    raised: the rows stay "queued" and the sweeper enqueues them later.

    Jobs go in pipelined transactions of ENQUEUE_CHUNK (RQ's `enqueue_many`): a broadcast's
    1,000 jobs take a few round-trips, not a thousand."""
    done = 0
    try:
        for priority, chunk in _chunks_by_queue(jobs):
            queue = Queue(priority, connection=redis_sync)
            with redis_sync.pipeline() as pipeline:
                queue.enqueue_many([_job_data(settings, job) for job in chunk],
                                   pipeline=pipeline)
                pipeline.execute()
            done += len(chunk)
    except RedisError as error:
        log.warning("outbox: Redis refused %d job(s) (%s); the sweeper will enqueue them",
                    len(jobs) - done, type(error).__name__)
    return done


def job_key(message: OutboundMessage) -> str:
    """The id of the RQ job that carries `message`."""
    return message.job_id or f"sms-{message.id}"


def _chunks_by_queue(jobs: Sequence[JobPlan]) -> Iterator[tuple[str, list[JobPlan]]]:
    """Runs of consecutive jobs for the same queue, at most ENQUEUE_CHUNK long."""
    chunk: list[JobPlan] = []
    for job in jobs:
        if chunk and (job.priority != chunk[0].priority or len(chunk) == ENQUEUE_CHUNK):
            yield chunk[0].priority, chunk
            chunk = []
        chunk.append(job)
    if chunk:
        yield chunk[0].priority, chunk


def _job_data(settings: Settings, job: JobPlan) -> EnqueueData:
    retry = None
    if settings.outbox.max_attempts > 1:
        retry = Retry(
            max=settings.outbox.max_attempts - 1, interval=list(settings.outbox.retry_intervals)
        )
    if job.batch:
        function, args, timeout = SEND_BATCH, (list(job.ids),), BATCH_JOB_TIMEOUT
    else:
        function, args, timeout = SEND_MESSAGE, (job.ids[0],), None
    return Queue.prepare_data(function, args, timeout=timeout, job_id=job.job_id, result_ttl=0,
                              failure_ttl=FAILED_JOB_TTL, retry=retry)


def _check(new: NewMessage) -> None:
    if new.provider not in PROVIDERS:
        raise ValueError(f"unknown provider {new.provider!r}; one of {', '.join(PROVIDERS)}")
    if new.kind not in KINDS:
        raise ValueError(f"unknown kind {new.kind!r}; one of {', '.join(KINDS)}")
    if new.priority is not None and new.priority not in PRIORITIES:
        raise ValueError(f"unknown priority {new.priority!r}; one of {', '.join(PRIORITIES)}")


def _earlier(session: Session, dedupe_key: str | None) -> OutboundMessage | None:
    if dedupe_key is None:
        return None
    return session.exec(
        select(OutboundMessage).where(OutboundMessage.dedupe_key == dedupe_key)
    ).first()


def _opted_out(session: Session, pseudonym: str) -> bool:
    contact = contacts.find(session, pseudonym)
    return contact is not None and contact.opted_out


# --- sending -----------------------------------------------------------------------------------

# Each provider module has `send_sms(settings, messages)` and `lookup(settings, message, since)`.
CHANNELS: dict[str, ModuleType] = {africastalking.NAME: africastalking, twilio.NAME: twilio}


def channel(provider: str) -> ModuleType:
    return CHANNELS[provider]


@dataclass
class Sender:
    """What send jobs and the sweeper use: settings, a database engine, a Redis client."""

    settings: Settings
    engine: Engine
    redis: Redis


def job_sender() -> Sender:
    """This process's Sender, built on first use from the environment (as `gateway worker`)."""
    return _sender_for_process(os.getpid())


@cache  # never evicted: a parent's engine must not be closed in its child
def _sender_for_process(pid: int) -> Sender:
    settings = load_settings()
    if settings.redis_url is None:
        raise RuntimeError("REDIS_URL is not set: send jobs need the throttle's Redis")
    return Sender(
        settings=settings,
        engine=make_engine(settings.database_url),
        redis=Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=10.0),
    )


def send_message(message_id: int) -> str:
    """RQ job: send one queued message (see the module docstring for the guarantees)."""
    return send(job_sender(), [message_id])


def send_batch(message_ids: list[int]) -> str:
    """RQ job: send many queued messages; Africa's Talking gets one call per text."""
    return send(job_sender(), message_ids)


@dataclass
class Tally:
    sent: int = 0
    failed: int = 0
    retry: int = 0
    unsure: int = 0  # left "sending": the provider may have it; the sweeper settles it
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"sent={self.sent} failed={self.failed} retry={self.retry} unsure={self.unsure}"


@dataclass(frozen=True)
class _Row:
    id: int
    provider: str
    number_encrypted: str
    text: str
    sender: str | None
    priority: str  # "high": replies and notices (the throttle's reply lane); "low": bulk


def send(sender: Sender, message_ids: Sequence[int]) -> str:
    """Claim, throttle, send and record `message_ids` (those still "queued"); a summary line.

    Raises RetryLater when the provider failed transiently, after putting those rows back to
    "queued" (rows not reached in this run stay "queued" too), so the job's Retry runs again.
    """
    tally = Tally()
    for provider, calls in _calls(_queued(sender.engine, message_ids), sender.settings):
        for rows in calls:
            _send_call(sender, provider, rows, tally)
            if tally.retry:
                break  # the provider is struggling: the rest waits for the retry
        if tally.retry:
            break
    if tally.retry:
        raise RetryLater(f"{tally}: {'; '.join(sorted(set(tally.reasons)))}")
    return str(tally)


def _queued(engine: Engine, message_ids: Sequence[int]) -> list[_Row]:
    table = OutboundMessage.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.id, table.provider, table.number_encrypted, table.text, table.sender,
                   table.priority)
            .where(table.id.in_(list(message_ids)), _status_is(table.status, "queued"))
            .order_by(table.id)
        ).all()
    return [_Row(*row) for row in rows]


def _calls(rows: list[_Row], settings: Settings) -> list[tuple[str, list[list[_Row]]]]:
    """Per provider, the groups sent in one provider call (and claimed together).

    A provider module's MAX_RECIPIENTS (Africa's Talking: many numbers, one text) says how many
    share a call, capped by outbox.batch_size; without it (Twilio) a call carries one message.
    A bulk call also carries at most `throttle.bulk_call_size` (half a second of the throttle:
    25 at 50/s), the most bulk takes from the bucket at once while leaving replies their
    headroom. A claim must not outlive one call: that keeps `send_lease_seconds` meaningful.
    """
    by_provider: dict[str, dict[tuple[str, str | None, str], list[_Row]]] = {}
    for row in rows:
        key = (row.text, row.sender, row.priority)
        by_provider.setdefault(row.provider, {}).setdefault(key, []).append(row)
    plan = []
    for provider, groups in by_provider.items():
        size = min(getattr(channel(provider), "MAX_RECIPIENTS", 1), settings.outbox.batch_size)
        bulk_size = min(size, throttle.bulk_call_size(_rate(settings, provider)))
        calls = [
            group[start:start + step]
            for (_, _, priority), group in groups.items()
            for step in [size if priority == "high" else bulk_size]
            for start in range(0, len(group), step)
        ]
        plan.append((provider, calls))
    return plan


def _rate(settings: Settings, provider: str) -> float:
    """The provider's throttle: outbox.<provider>_per_second."""
    return float(getattr(settings.outbox, f"{provider}_per_second"))


def _send_call(sender: Sender, provider: str, rows: list[_Row], tally: Tally) -> None:
    settings = sender.settings
    rate = _rate(settings, provider)
    # Tokens before the claim (a claim must not wait for the throttle). Replies reserve theirs
    # and never queue behind bulk; bulk takes only what the bucket holds beyond the replies'
    # headroom (gateway.throttle).
    if rows[0].priority == "high":
        throttle.wait_for(sender.redis, provider, len(rows), rate=rate)
    else:
        throttle.wait_for_bulk(sender.redis, provider, len(rows), rate=rate)
    attempts = _claim(sender.engine, [row.id for row in rows])
    throttle.refund(sender.redis, provider, len(rows) - len(attempts), rate=rate)
    if not attempts:
        return
    messages, unreadable = [], []
    for row in rows:
        if row.id not in attempts:
            continue
        try:
            number = decrypt_number(row.number_encrypted, settings.secret_key)
        except NumberDecryptionError:
            unreadable.append(SendResult.refused(row.id, "cannot decrypt the number",
                                                 permanent=True))
            continue
        messages.append(OutgoingSms(row.id, number, row.text, row.sender))
    results = unreadable + (_provider_send(settings, provider, messages) if messages else [])
    _record(sender.engine, settings, results, attempts, tally)


def _provider_send(
    settings: Settings, provider: str, messages: list[OutgoingSms]
) -> list[SendResult]:
    try:
        return list(channel(provider).send_sms(settings, messages))
    except TransportError as error:
        return [
            SendResult.refused(m.message_id, error.reason, permanent=error.permanent,
                               maybe_sent=error.maybe_sent)
            for m in messages
        ]


def _status_is(status: Any, value: str) -> Any:
    """`status = value` checked on rows already found by their primary key, never through the
    (status, updated_at) index: written `status || '' = value`, which no index serves.

    While a broadcast drains, that index's "queued" range holds an entry for every invite (the
    dead ones of invites already sent stay until a vacuum: a status change is never a HOT
    update) and its "sending" range one for every invite sent so far. Planner statistics from
    before the launch call both ranges small, so PostgreSQL ANDed them with the primary key
    lookup: each 500-row job read the whole range three times (100,000 entries per statement in
    a 100,000-invite drain; 465 index entries read per invite against 33 at 6,250), and the
    cost per invite grew with the size of the broadcast. By key only it is 1 to 4 per invite."""
    return status.concat("") == value


def _claim(engine: Engine, ids: list[int]) -> dict[int, int]:
    """Atomically take the rows still "queued": {id: attempts including this one}."""
    now = datetime.now(UTC)
    table = OutboundMessage.__table__.c  # type: ignore[attr-defined]
    with engine.begin() as connection:
        claimed = connection.execute(
            update(OutboundMessage)
            .where(and_(table.id.in_(ids), _status_is(table.status, "queued")))
            .values(status="sending", claimed_at=now, updated_at=now,
                    attempts=table.attempts + 1)
            .returning(table.id, table.attempts)
        ).all()
    return {row.id: row.attempts for row in claimed}


def _record(
    engine: Engine,
    settings: Settings,
    results: list[SendResult],
    attempts: dict[int, int],
    tally: Tally,
) -> None:
    """Write each result, but only over our own claim ("sending"): a delivery report that
    arrived first is never overwritten. Results that set the same columns are written by
    one statement (`_update_claimed`)."""
    now = datetime.now(UTC)
    changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    stopped = []
    for result in results:
        values = _outcome(result, attempts.get(result.message_id, 1), settings, now, tally)
        if values is None:
            continue
        changes.setdefault(tuple(sorted(values)), []).append({"id": result.message_id, **values})
        if result.opted_out:
            stopped.append(result.message_id)
    with Session(engine) as session:
        connection = session.connection()
        for rows in changes.values():
            _update_claimed(connection, rows, now)
        for message_id in stopped:
            opt_out(session, message_id, now)
        session.commit()


def _update_claimed(connection: Connection, rows: list[dict[str, Any]], now: datetime) -> None:
    """Give each row (an "id" and the same other keys) its values where it is still "sending".

    PostgreSQL gets one UPDATE … FROM unnest(<arrays>) for all the rows; SQLite, which runs in
    the process, an executemany. (1,000 single-row UPDATEs, even pipelined, were the largest
    part of a worker's CPU per broadcast message.)"""
    table = OutboundMessage.__table__  # type: ignore[attr-defined]
    columns = [name for name in rows[0] if name != "id"]
    same = {name: rows[0][name] for name in columns if all(r[name] == rows[0][name] for r in rows)}
    varying = [name for name in columns if name not in same]
    if connection.dialect.name != "postgresql":
        statement = (
            update(table)
            .where(and_(table.c.id == bindparam("row_id"), _status_is(table.c.status, "sending")))
            .values(updated_at=now, **same, **{name: bindparam(f"new_{name}") for name in varying})
        )
        connection.execute(statement, [
            {"row_id": row["id"], **{f"new_{name}": row[name] for name in varying}} for row in rows
        ])
        return
    given = select(
        func.unnest(bindparam("row_ids", type_=ARRAY(table.c.id.type))).label("id"),
        *[func.unnest(bindparam(f"new_{name}", type_=ARRAY(table.c[name].type))).label(name)
          for name in varying],
    ).subquery("given")
    statement = (
        update(table)
        .where(and_(table.c.id == given.c.id, _status_is(table.c.status, "sending")))
        .values(updated_at=now, **same, **{name: given.c[name] for name in varying})
    )
    connection.execute(statement, {
        "row_ids": [row["id"] for row in rows],
        **{f"new_{name}": [row[name] for row in rows] for name in varying},
    })


def _outcome(
    result: SendResult, attempts: int, settings: Settings, now: datetime, tally: Tally
) -> dict[str, Any] | None:
    if result.status == "sent":
        tally.sent += 1
        return {"status": "sent", "provider_id": result.provider_id, "sent_at": now}
    if result.status == "retry" and result.maybe_sent:
        tally.unsure += 1
        log.warning("outbox: message %s may have reached the provider (%s); left for the "
                    "sweeper to reconcile", result.message_id, result.reason)
        return None
    if result.status == "retry" and attempts < settings.outbox.max_attempts:
        tally.retry += 1
        tally.reasons.append(result.reason)
        return {"status": "queued"}
    tally.failed += 1
    reason = result.reason
    if result.status == "retry":
        reason = f"gave up after {attempts} attempts: {reason}"
    return {"status": "failed", "failure_reason": reason[:500]}


# --- sweeping ----------------------------------------------------------------------------------

LOOKUP_MARGIN = timedelta(seconds=60)  # the provider's clock may differ a little from ours
RECONCILE_BUDGET_SECONDS = 5.0  # provider lookups per sweep stop after this long


@dataclass
class Sweep:
    requeued: int = 0  # "queued" rows whose job was gone: enqueued again
    waiting: int = 0  # "queued" rows whose job is alive (queued, scheduled for a retry, running)
    confirmed: int = 0  # "sending" rows the provider has: now "sent"
    returned: int = 0  # "sending" rows the provider never got: "queued" again
    unknown: int = 0  # "sending" rows the provider cannot tell us about: "unknown"

    def __str__(self) -> str:
        return " ".join(f"{name}={value}" for name, value in vars(self).items())


def sweep_outbox(
    engine: Engine, redis_sync: Redis, settings: Settings, *, now: datetime | None = None
) -> Sweep:
    """Re-enqueue rows stuck in "queued"; settle claims older than the send lease.

    Called by `gateway worker` every `outbox.sweep_interval_seconds`. Each call looks at no more
    than SWEEP_LIMIT rows of each kind (oldest first; rows it checked are touched, so the next
    call moves on). Safe to run in several workers at once: every change is conditional on the
    row's status, and a job enqueued twice sends once.
    """
    now = now or datetime.now(UTC)
    sweep = Sweep()
    _sweep_queued(engine, redis_sync, settings, now, sweep)
    _sweep_sending(engine, redis_sync, settings, now, sweep)
    if sweep.requeued or sweep.confirmed or sweep.returned or sweep.unknown:
        log.info("outbox sweep: %s", sweep)
    return sweep


def _sweep_queued(
    engine: Engine, redis_sync: Redis, settings: Settings, now: datetime, sweep: Sweep
) -> None:
    cutoff = now - timedelta(seconds=settings.outbox.sweep_after_seconds)
    with Session(engine) as session:
        stale = session.exec(
            select(OutboundMessage).where(
                OutboundMessage.status == "queued", OutboundMessage.updated_at < cutoff
            ).order_by(OutboundMessage.updated_at).limit(SWEEP_LIMIT)  # type: ignore[arg-type]
        ).all()
        if not stale:
            return
        by_job: dict[str, list[OutboundMessage]] = {}
        for row in stale:
            by_job.setdefault(job_key(row), []).append(row)
        alive = live_jobs(redis_sync, {key: rows[0].priority for key, rows in by_job.items()},
                          now=now, started_within=settings.outbox.sweep_after_seconds)
        dead = [key for key in by_job if key not in alive]
        lost = [row for key in dead for row in _job_rows(session, key, by_job[key])]
        jobs = plan_jobs(lost)
        touched = [row.id for row in stale] + [row.id for row in lost]
    if enqueue_jobs(redis_sync, settings, jobs) < len(jobs):
        return  # Redis is down: try again next sweep
    _touch(engine, touched, now)
    sweep.requeued += len(lost)
    sweep.waiting += sum(len(by_job[key]) for key in alive)


def _job_rows(
    session: Session, key: str, stale: list[OutboundMessage]
) -> Sequence[OutboundMessage]:
    """All rows of a lost batch job still queued (not only the stale ones)."""
    if not key.startswith("sms-batch-"):
        return stale
    return session.exec(
        select(OutboundMessage).where(
            OutboundMessage.job_id == key, OutboundMessage.status == "queued"
        ).order_by(OutboundMessage.id)  # type: ignore[arg-type]
    ).all()


def live_jobs(
    redis_sync: Redis, jobs: dict[str, str], *, now: datetime, started_within: float
) -> set[str]:
    """Which of `jobs` ({job id: queue name}) will still run: waiting in its queue, scheduled
    for a retry, or running with a heartbeat in the last `started_within` seconds.

    A job whose hash says "queued" but is in no queue list was taken by a worker that died
    before starting it; a "started" job without a recent heartbeat lost its worker. Both are
    dead here, although RQ's own clean-up would only notice much later.
    """
    alive = set()
    fetched = Job.fetch_many(list(jobs), connection=redis_sync)
    for (job_id, queue_name), job in zip(jobs.items(), fetched, strict=True):
        if job is None:
            continue
        status = job.get_status(refresh=False)
        if status == JobStatus.QUEUED:
            queue = Queue(queue_name, connection=redis_sync)
            if queue.get_job_position(job_id) is not None:
                alive.add(job_id)
        elif status == JobStatus.SCHEDULED:
            if job_id in ScheduledJobRegistry(queue_name, connection=redis_sync):
                alive.add(job_id)
        elif status == JobStatus.STARTED:
            seen = job.last_heartbeat or job.started_at
            if seen is not None and now - _aware(seen) < timedelta(seconds=started_within):
                alive.add(job_id)
        elif status in LIVE_JOB:
            alive.add(job_id)
    return alive


def _touch(engine: Engine, ids: list[int], now: datetime) -> None:
    table = OutboundMessage.__table__.c  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            update(OutboundMessage)
            .where(and_(table.id.in_(ids), table.status == "queued"))
            .values(updated_at=now)
        )


def _sweep_sending(
    engine: Engine, redis_sync: Redis, settings: Settings, now: datetime, sweep: Sweep
) -> None:
    cutoff = now - timedelta(seconds=settings.outbox.send_lease_seconds)
    with Session(engine) as session:
        claims = [
            _Claim(r.id, r.provider, r.number_encrypted, r.text, r.sender, r.priority,  # type: ignore[arg-type]
                   _aware(r.claimed_at or now))
            for r in session.exec(
                select(OutboundMessage).where(
                    OutboundMessage.status == "sending",
                    OutboundMessage.claimed_at < cutoff,  # type: ignore[operator]
                ).order_by(OutboundMessage.claimed_at).limit(SWEEP_LIMIT)  # type: ignore[arg-type]
            ).all()
        ]
    jobs, deadline = [], time.monotonic() + RECONCILE_BUDGET_SECONDS
    for claim in claims:
        if time.monotonic() > deadline:
            break  # the scheduler's fork waits for the sweep: the next sweep goes on
        with Session(engine) as session:  # each row on its own: a later failure keeps these
            outcome = _reconcile(session, settings, claim, now)
            session.commit()
        if outcome:
            setattr(sweep, outcome, getattr(sweep, outcome) + 1)
        if outcome == "returned":
            jobs.append(JobPlan(f"sms-{claim.id}", claim.priority, (claim.id,), batch=False))
    enqueue_jobs(redis_sync, settings, jobs)  # if Redis refuses, the queued sweep retries


@dataclass(frozen=True)
class _Claim:
    id: int
    provider: str
    number_encrypted: str
    text: str
    sender: str | None
    priority: str
    claimed_at: datetime


def _reconcile(session: Session, settings: Settings, claim: _Claim, now: datetime) -> str:
    """Ask the provider about one interrupted send; the Sweep counter to bump ("" = later)."""
    try:
        number = decrypt_number(claim.number_encrypted, settings.secret_key)
        message = OutgoingSms(claim.id, number, claim.text, claim.sender)
        found = channel(claim.provider).lookup(settings, message, claim.claimed_at - LOOKUP_MARGIN)
    except LookupUnsupported:
        log.warning("outbox: message %s was being sent when its worker stopped; %s cannot be "
                    "asked, so it is marked unknown (sent once or not at all)",
                    claim.id, claim.provider)
        return _settle(session, claim.id, now, status="unknown",
                       failure_reason=f"send interrupted; {claim.provider} cannot confirm it")
    except (NumberDecryptionError, TransportError) as error:
        log.warning("outbox: cannot reconcile message %s yet: %s", claim.id, error)
        return ""
    provider_id = _unused(session, claim.provider, list(found))
    if provider_id is not None:
        return _settle(session, claim.id, now, status="sent", provider_id=provider_id,
                       sent_at=claim.claimed_at)
    return _settle(session, claim.id, now, status="queued", job_id=None)


def _unused(session: Session, provider: str, provider_ids: list[str]) -> str | None:
    """The first id not already recorded on another message (same text, same number twice)."""
    if not provider_ids:
        return None
    taken = set(session.exec(
        select(OutboundMessage.provider_id).where(
            OutboundMessage.provider == provider,
            OutboundMessage.provider_id.in_(provider_ids),  # type: ignore[union-attr]
        )
    ).all())
    return next((pid for pid in provider_ids if pid not in taken), None)


_SETTLED = {"sent": "confirmed", "queued": "returned", "unknown": "unknown"}


def _settle(
    session: Session, message_id: int, now: datetime, *, status: str, **values: Any
) -> str:
    table = OutboundMessage.__table__.c  # type: ignore[attr-defined]
    result = session.execute(
        update(OutboundMessage)
        .where(and_(table.id == message_id, table.status == "sending"))
        .values(status=status, updated_at=now, **values)
    )
    return _SETTLED[status] if result.rowcount else ""  # "": a delivery report came first


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
