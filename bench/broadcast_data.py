"""The rows bench/broadcast.py works on: seeded contacts, the launch it times, the baseline insert.

Everything the bench adds is recognisable and removed before the next run: its contacts live in
ward BENCH_WARD, its broadcasts are created by BENCH_ACTOR, its replies go to numbers starting
REPLY_PREFIX. Nothing else in the database is touched, so a runner's own data survives.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from sqlalchemy import Engine, MetaData, Table, delete, func, insert, select
from sqlmodel import Session, col

from gateway.broadcasts import launch
from gateway.broadcasts.audience import Audience
from gateway.config import Settings
from gateway.crypto import encrypt_number
from gateway.models import Broadcast, Contact, OutboundMessage
from gateway.phone import pseudonym

BENCH_WARD = "bench-ward"
BENCH_ACTOR = "bench@broadcast.invalid"
FLOW = "budget"
INVITE = "Ward budget poll: have your say. Dial *384*1# or reply POLL. Reply STOP to opt out."
REPLY_PREFIX = "+2541"  # replies to citizens go to +2541…; invites to +2547…
INSERT_CHUNK = 1000
SCRATCH = "bench_scratch_outbound"


def invite_number(index: int) -> str:
    return f"+2547{index:08d}"


def reply_number(index: int) -> str:
    return f"{REPLY_PREFIX}{index:08d}"


@dataclass(frozen=True)
class Contacts:
    """Encrypted numbers and pseudonyms for up to `len(tokens)` contacts, computed once."""

    numbers: list[str]
    pseudonyms: list[str]
    tokens: list[str]

    @classmethod
    def make(cls, count: int, secret_key: str) -> Contacts:
        numbers = [invite_number(i) for i in range(count)]
        return cls(numbers, [pseudonym(n, secret_key) for n in numbers],
                   [encrypt_number(n, secret_key) for n in numbers])


def seed(engine: Engine, contacts: Contacts, count: int) -> None:
    """The first `count` contacts, in ward BENCH_WARD, with an encrypted number (not timed)."""
    now = datetime.now(UTC)
    rows = [{"pseudonym": contacts.pseudonyms[i], "number_encrypted": contacts.tokens[i],
             "channel": "africastalking", "language": "en", "ward_code": BENCH_WARD,
             "opted_out": False, "tags": [], "created_at": now, "updated_at": now}
            for i in range(count)]
    with engine.begin() as connection:
        for start in range(0, len(rows), INSERT_CHUNK):
            connection.execute(insert(Contact), rows[start:start + INSERT_CHUNK])
    _analyze(engine)


def clean(engine: Engine) -> None:
    """Remove everything an earlier run of the bench added."""
    with engine.begin() as connection:
        ours = select(Broadcast.id).where(Broadcast.created_by == BENCH_ACTOR)
        connection.execute(delete(OutboundMessage).where(
            col(OutboundMessage.broadcast_id).in_(ours.scalar_subquery())))
        connection.execute(delete(OutboundMessage).where(
            col(OutboundMessage.dedupe_key).like("bench-reply:%")))
        connection.execute(delete(Broadcast).where(Broadcast.created_by == BENCH_ACTOR))
        connection.execute(delete(Contact).where(Contact.ward_code == BENCH_WARD))
    _analyze(engine)


def _analyze(engine: Engine) -> None:
    """Dead rows of the last run vacuumed and planner statistics fresh, as autovacuum keeps a
    production database (PostgreSQL only): each run starts from the same state."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE contact, outbound_message, broadcast")


@dataclass(frozen=True)
class Launched:
    broadcast_id: int
    recipients: int
    jobs: int
    seconds: float
    cpu_seconds: float  # of them, CPU in this process (the rest: the database, Redis, waiting)


def launch_invite(engine: Engine, redis_sync: Redis, settings: Settings) -> Launched:
    """What the staff confirm does, timed: create + commit + after_commit (RQ jobs enqueued)."""
    draft = launch.Draft(FLOW, INVITE, Audience(ward=BENCH_WARD), f"bench-{uuid.uuid4().hex}")
    started, cpu = time.perf_counter(), time.process_time()
    with Session(engine, expire_on_commit=False) as session:
        created = launch.create(session, settings, draft, BENCH_ACTOR)
        session.commit()
    launch.after_commit(redis_sync, settings, created)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    broadcast = created.broadcast
    return Launched(broadcast.id or 0, broadcast.recipients, len(created.jobs), seconds, cpu)


def baseline_insert(engine: Engine, broadcast_id: int, count: int) -> float:
    """Seconds to write `count` rows like the broadcast's into a scratch copy of
    outbound_message (same columns, indexes and unique keys) the fastest way the database
    takes rows from this driver: one COPY on PostgreSQL (an executemany on SQLite). The
    database's own floor for writing the invites, without choosing anyone or queueing jobs."""
    with Session(engine) as session:
        rows = [dict(row._mapping) for row in session.execute(
            select(OutboundMessage.__table__)  # type: ignore[attr-defined]
            .where(OutboundMessage.broadcast_id == broadcast_id).limit(count))]
    for row in rows:
        row.pop("id")
        row["dedupe_key"] = f"scratch:{uuid.uuid4().hex}"
    scratch = _scratch_table()
    scratch.drop(engine, checkfirst=True)
    scratch.create(engine)
    names = list(rows[0])
    try:
        started = time.perf_counter()
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor, cursor.copy(f"COPY {SCRATCH} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[name] for name in names])
            else:
                for start in range(0, len(rows), INSERT_CHUNK):
                    connection.execute(insert(scratch), rows[start:start + INSERT_CHUNK])
        return time.perf_counter() - started
    finally:
        scratch.drop(engine, checkfirst=True)


def _scratch_table() -> Table:
    source: Table = OutboundMessage.__table__  # type: ignore[attr-defined]
    scratch = source.to_metadata(MetaData(), name=SCRATCH)
    for number, index in enumerate(scratch.indexes):
        index.name = f"{SCRATCH}_{number}"
    return scratch


def unsettled(engine: Engine, broadcast_id: int) -> int:
    """The broadcast's messages still waiting or being sent."""
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(OutboundMessage).where(
            OutboundMessage.broadcast_id == broadcast_id,
            col(OutboundMessage.status).in_(("queued", "sending")))).scalar_one()


def statuses(engine: Engine, broadcast_id: int) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.execute(
            select(OutboundMessage.status, func.count())
            .where(OutboundMessage.broadcast_id == broadcast_id)
            .group_by(OutboundMessage.status)).all())


def replies_unsettled(engine: Engine) -> int:
    """The bench's replies to citizens still waiting or being sent."""
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(OutboundMessage).where(
            col(OutboundMessage.dedupe_key).like("bench-reply:%"),
            col(OutboundMessage.status).in_(("queued", "sending")))).scalar_one()


def first_claim(engine: Engine, broadcast_id: int) -> float | None:
    """When a worker first took some of the broadcast's invites to send (a Unix time)."""
    with Session(engine) as session:
        first = session.execute(select(func.min(OutboundMessage.claimed_at)).where(
            OutboundMessage.broadcast_id == broadcast_id)).scalar_one()
    if first is None:
        return None
    return (first if first.tzinfo else first.replace(tzinfo=UTC)).timestamp()
