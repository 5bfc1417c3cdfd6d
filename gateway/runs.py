"""Finished runs leave Redis for SQL here; open runs past their resume window are closed here.

The USSD hop only pushes finished runs on the Redis outbox (so a hop never waits for SQL). The
worker drains that list into `FlowRun` rows. Items are moved onto a processing list before
the SQL write and removed after it, so a crash or a database outage mid-write loses nothing:
the next drain writes them again, and the write is idempotent on run_id.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session, col, select

from gateway.db import session_scope
from gateway.metrics import RUNS_PERSISTED
from gateway.models import Contact, FlowRun
from gateway.outbox import enqueue_jobs, plan_jobs
from gateway.sessions import (
    DEADLINES,
    OUTBOX,
    OUTBOX_PROCESSING,
    SAVE_LUA,
    Change,
    Loaded,
    StoredRun,
    finished_entry,
    run_key,
    save_call,
)

if TYPE_CHECKING:
    from gateway.reports.service import Filing

log = logging.getLogger(__name__)

OUTBOX_DEAD = "gw:runs:outbox:dead"
BATCH = 100


def drain_outbox(
    redis_sync: Redis, engine: Engine, *, batch: int = BATCH, reports: Filing | None = None
) -> int:
    """Write finished runs into SQL; returns how many entries were written (or found written).

    On a database error the entries stay in Redis for the next call. With `reports`, a
    completed run of a report flow is filed as a Report in the same transaction (idempotent on
    the run id) and its "report received" SMS is enqueued after the commit.
    """
    done = 0
    leftover = redis_sync.lrange(OUTBOX_PROCESSING, 0, batch - 1)  # from a crash mid-write
    while True:
        items = leftover or _take(redis_sync, batch)
        if not items:
            return done
        try:
            _write(redis_sync, engine, items, reports)
        except SQLAlchemyError as error:
            if _is_outage(error):
                log.warning("runs: database unavailable, %d kept in Redis (%s)",
                            len(items), type(error).__name__)
                return done
            _write_one_by_one(redis_sync, engine, items, reports)
        _forget(redis_sync, items)
        done += len(items)
        if not leftover and len(items) < batch:
            return done
        leftover = []


def sweep_expired(redis_sync: Redis, now: float, window: int) -> int:
    """Close open runs whose resume window has passed; they are recorded as incomplete."""
    script = redis_sync.register_script(SAVE_LUA)
    closed = 0
    for member in redis_sync.zrangebyscore(DEADLINES, "-inf", now, start=0, num=BATCH):
        member = member.decode() if isinstance(member, bytes) else member
        contact, _, flow = member.partition(":")
        raw = redis_sync.get(run_key(contact, flow))
        change = Change(session=None, run=None)
        if raw is not None:
            try:
                run = StoredRun.from_json(raw)
            except (ValueError, KeyError, TypeError):
                log.error("runs: unreadable open run for %s, dropped", flow)
                run = None
            if run is not None and run.updated_at + window > now:
                continue  # touched since the deadline was read
            if run is not None:
                entry = finished_entry(run, contact, "incomplete", run.updated_at)
                change = Change(session=None, run=None, outbox=(entry,))
        loaded = Loaded(session_raw=None, run_raw=raw, language=None)
        keys, args = save_call(None, contact, flow, loaded, change,
                               session_ttl=1, resume_window=window)
        if script(keys=keys, args=args) and change.outbox:
            closed += 1
    return closed


def _take(redis_sync: Redis, batch: int) -> list[bytes]:
    pipe = redis_sync.pipeline(transaction=False)
    for _ in range(batch):
        pipe.lmove(OUTBOX, OUTBOX_PROCESSING, "LEFT", "RIGHT")
    return [item for item in pipe.execute() if item is not None]


def _forget(redis_sync: Redis, items: list[bytes]) -> None:
    pipe = redis_sync.pipeline(transaction=False)
    for item in items:
        pipe.lrem(OUTBOX_PROCESSING, 1, item)
    pipe.execute()


def _write(
    redis_sync: Redis, engine: Engine, items: list[bytes], reports: Filing | None = None
) -> None:
    messages = []
    with session_scope(engine) as session:
        entries = _entries(items)
        unwritten = _unwritten(session, entries)
        contacts = _contacts(session, [entry for entry in entries if entry["run_id"] in unwritten])
        now = datetime.now(UTC)
        written = []
        for entry in entries:
            if entry["run_id"] in unwritten:
                _insert(session, entry, contacts, now)
                written.append(entry["status"])
            if reports is not None:
                messages += reports.file(session, entry)
        jobs = plan_jobs(messages)  # read before the commit expires the rows
    for status in written:
        RUNS_PERSISTED.labels(status=status).inc()
    if jobs and reports is not None:  # after the commit; the outbox sweeper is the backstop
        enqueue_jobs(redis_sync, reports.context.settings, jobs)


def _write_one_by_one(
    redis_sync: Redis, engine: Engine, items: list[bytes], reports: Filing | None = None
) -> None:
    """A batch failed on its data: write what can be written, set the rest aside."""
    for item in items:
        try:
            _write(redis_sync, engine, [item], reports)
        except SQLAlchemyError as error:
            if _is_outage(error):
                raise
            log.error("runs: outbox entry rejected by the database (%s); kept in %s",
                      type(error).__name__, OUTBOX_DEAD)
            redis_sync.rpush(OUTBOX_DEAD, item)


def _entries(items: list[bytes]) -> list[dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for item in items:
        try:
            entry = json.loads(item)
            entries[entry["run_id"]] = entry
        except (ValueError, KeyError, TypeError):
            log.error("runs: unreadable outbox entry skipped")
    return list(entries.values())


def _unwritten(session: Session, entries: list[dict[str, Any]]) -> set[str]:
    """The run ids of `entries` not in SQL yet (a retried drain finds some written): one query
    for the whole batch."""
    ids = [entry["run_id"] for entry in entries]
    if not ids:
        return set()
    found = session.exec(select(FlowRun.id).where(col(FlowRun.id).in_(ids)))
    return set(ids) - set(found)


def _contacts(session: Session, entries: list[dict[str, Any]]) -> dict[str, Contact]:
    """The batch's known contacts by pseudonym: one query for the whole batch."""
    pseudonyms = sorted({entry["contact"] for entry in entries})
    if not pseudonyms:
        return {}
    query = select(Contact).where(col(Contact.pseudonym).in_(pseudonyms))
    return {contact.pseudonym: contact for contact in session.exec(query)}


def _insert(
    session: Session, entry: dict[str, Any], contacts: dict[str, Contact], now: datetime
) -> None:
    """Add the run and keep its contact's language (and ward); `contacts` gains a new one, so
    a later run of the same contact in the batch updates it."""
    session.add(FlowRun(
        id=entry["run_id"],
        flow=entry["flow"],
        contact_pseudonym=entry["contact"],
        channel=entry["channel"],
        language=entry["language"],
        status=entry["status"],
        last_step=entry["last_step"],
        answers=entry["answers"],
        hops=entry["hops"],
        started_at=_time(entry["started_at"]),
        ended_at=_time(entry["ended_at"]),
        simulated=entry["simulated"],
    ))
    contact = contacts.get(entry["contact"])
    ward = _ward(entry)
    if contact is None:
        contacts[entry["contact"]] = contact = Contact(
            pseudonym=entry["contact"], language=entry["language"], ward_code=ward,
            created_at=now, updated_at=now)
        session.add(contact)
    elif contact.language != entry["language"] or (ward and contact.ward_code != ward):
        contact.language = entry["language"]
        contact.ward_code = ward or contact.ward_code
        contact.updated_at = now
        session.add(contact)


NOT_A_WARD = frozenset({"other"})  # the poll's "Another ward": it says where they are not


def _ward(entry: dict[str, Any]) -> str | None:
    """The ward a run's `ward` answer names, remembered on the contact so staff can invite
    a ward's people; a simulated run says nothing about a real person."""
    ward = entry.get("answers", {}).get("ward")
    if entry.get("simulated") or not isinstance(ward, str) or not ward or ward in NOT_A_WARD:
        return None
    return ward[:100]


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _is_outage(error: SQLAlchemyError) -> bool:
    """Connection trouble (retry later) rather than a row the database refuses."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return type(error).__name__ in ("OperationalError", "InterfaceError", "TimeoutError")
