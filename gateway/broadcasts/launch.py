"""Confirming a launch: the Broadcast, contacts for listed numbers, and one queued invite each.

The page does `create` in its own transaction (with the audit entry), commits, then calls
`after_commit`. Sending now queues the invites in that same transaction; sending later stores
the audience and schedules `start_broadcast` with RQ's `enqueue_at`, which picks the people at
that time (a STOP sent in between is respected) and queues them the same way.

Invites are inserted in bulk (gateway.broadcasts.bulk: COPY on PostgreSQL) with "on conflict
do nothing" on the dedupe key "broadcast:{id}:{pseudonym}": a retried job, or a second run of
`start_broadcast`, adds nothing. They go in `send_batch` jobs (`outbox.bulk_job_size`) on the
"low" queue, which the worker takes only when "high" (replies to citizens) is empty.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Table, and_, update
from sqlmodel import Session, col, select

from gateway.broadcasts.audience import Audience
from gateway.broadcasts.bulk import insert_ignoring
from gateway.broadcasts.selection import Recipient, select_audience, select_stored
from gateway.config import Settings
from gateway.crypto import encrypt_number
from gateway.models import Broadcast, Contact, OutboundMessage, Poll
from gateway.outbox import JobPlan, bulk_job_size, enqueue_jobs, job_sender, segment_price
from gateway.sms.encoding import analyse, prepare

log = logging.getLogger(__name__)

START_QUEUE = "default"  # the worker takes it after replies, before bulk sends
START_JOB = "gateway.broadcasts.launch.start_broadcast"
OVERDUE = timedelta(minutes=2)  # a scheduled broadcast this late lost its job: start it again


@dataclass(frozen=True)
class Draft:
    """Everything the confirm form carries."""

    flow: str
    text: str
    audience: Audience
    token: str  # the preview's one-time idempotency key
    send_at: datetime | None = None  # None: now


@dataclass(frozen=True)
class Created:
    broadcast: Broadcast
    jobs: list[JobPlan]  # send jobs to enqueue after the commit (none when scheduled)


def find(session: Session, token: str) -> Broadcast | None:
    return session.exec(select(Broadcast).where(Broadcast.idempotency_key == token)).first()


def create(session: Session, settings: Settings, draft: Draft, actor: str) -> Created:
    """Add the broadcast (flushed, not committed); see the module docstring."""
    now = datetime.now(UTC)
    selection = select_audience(session, draft.audience, settings.secret_key, draft.flow)
    recipients = selection.recipients
    pseudonyms = None
    if draft.audience.by_numbers:
        recipients = save_listed(session, settings, recipients, now, tag=draft.audience.tag)
        pseudonyms = [r.pseudonym for r in recipients]
    broadcast = Broadcast(
        flow=draft.flow, text=draft.text, audience=draft.audience.stored(pseudonyms),
        recipients=len(recipients), excluded=selection.excluded,
        status="scheduled" if draft.send_at else "sending", idempotency_key=draft.token,
        scheduled_for=draft.send_at, created_by=actor, created_at=now, updated_at=now)
    session.add(broadcast)
    session.flush()
    jobs: list[JobPlan] = []
    if draft.send_at is None:
        jobs = queue_invites(session, settings, broadcast, recipients, now)
        mark_live(session, draft.flow, now)
    return Created(broadcast, jobs)


def after_commit(redis_sync: Redis, settings: Settings, created: Created) -> None:
    """Enqueue the send jobs, or schedule the start. Redis down: the outbox sweeper enqueues
    queued rows later; a lost start is found by `start_overdue`."""
    broadcast = created.broadcast
    if broadcast.scheduled_for is None:
        enqueue_jobs(redis_sync, settings, created.jobs)
        return
    try:
        schedule(redis_sync, broadcast.id, broadcast.scheduled_for)  # type: ignore[arg-type]
    except RedisError as error:
        log.warning("broadcast %s: could not schedule its start (%s)", broadcast.id,
                    type(error).__name__)


def schedule(redis_sync: Redis, broadcast_id: int, when: datetime) -> None:
    Queue(START_QUEUE, connection=redis_sync).enqueue_at(
        when, START_JOB, broadcast_id, job_id=start_job_id(broadcast_id), result_ttl=0)


def start_job_id(broadcast_id: int) -> str:
    return f"broadcast-{broadcast_id}"


def start_broadcast(broadcast_id: int) -> str:
    """RQ job (scheduled): queue a scheduled broadcast's invites now."""
    sender = job_sender()
    return f"queued={start(sender.engine, sender.redis, sender.settings, broadcast_id)}"


def start(engine: Any, redis_sync: Redis, settings: Settings, broadcast_id: int) -> int:
    """Move a "scheduled" broadcast to "sending" and queue its invites, in one transaction.

    The status change is conditional, so a cancelled broadcast or a second run does nothing;
    and on PostgreSQL it locks the row, so a cancel waits for the invites and then cancels them.
    """
    now = datetime.now(UTC)
    table = _table(Broadcast)
    with Session(engine) as session:
        claimed = session.execute(
            update(Broadcast).where(and_(table.c.id == broadcast_id,
                                         table.c.status == "scheduled"))
            .values(status="sending", updated_at=now))
        if not claimed.rowcount:
            return 0
        broadcast = session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        selection = select_stored(session, broadcast.audience, broadcast.flow, broadcast_id)
        jobs = queue_invites(session, settings, broadcast, selection.recipients, now)
        broadcast.recipients, broadcast.excluded = len(selection.recipients), selection.excluded
        session.add(broadcast)
        mark_live(session, broadcast.flow, now)
        session.commit()
    enqueue_jobs(redis_sync, settings, jobs)
    return len(selection.recipients)


def start_overdue(engine: Any, redis_sync: Redis, settings: Settings) -> int:
    """Start scheduled broadcasts whose time passed over OVERDUE ago (their job was lost)."""
    cutoff = datetime.now(UTC) - OVERDUE
    with Session(engine) as session:
        ids = session.exec(select(Broadcast.id).where(
            Broadcast.status == "scheduled", col(Broadcast.scheduled_for) < cutoff)).all()
    return sum(1 for bid in ids if bid is not None and start(engine, redis_sync, settings, bid))


def save_listed(
    session: Session, settings: Settings, recipients: list[Recipient], now: datetime,
    *, tag: str = "",
) -> list[Recipient]:
    """Contacts for listed numbers: created with their encrypted number (and `tag`), or given
    one; with a `tag`, every listed contact carries it afterwards."""
    if tag:
        _tag(session, [r.pseudonym for r in recipients if r.number_encrypted], tag, now)
    missing = [r for r in recipients if r.number_encrypted is None and r.number]
    if not missing:
        return recipients
    tokens = {r.pseudonym: encrypt_number(r.number, settings.secret_key)  # type: ignore[arg-type]
              for r in missing}
    table = _table(Contact)
    known = set()
    for chunk in _chunks(list(tokens), 900):
        known.update(session.exec(select(Contact.pseudonym)
                                  .where(col(Contact.pseudonym).in_(chunk))).all())
    for who in known:  # a contact who only used USSD: now we can text them
        session.execute(update(Contact).where(and_(table.c.pseudonym == who,
                                                   table.c.number_encrypted.is_(None)))
                        .values(number_encrypted=tokens[who], updated_at=now))
    if tag:
        _tag(session, list(known), tag, now)
    new = [{"pseudonym": r.pseudonym, "number_encrypted": tokens[r.pseudonym],
            "channel": r.provider, "opted_out": False, "tags": [tag] if tag else [],
            "created_at": now,
            "updated_at": now} for r in missing if r.pseudonym not in known]
    insert_ignoring(session, table, new, "pseudonym")
    return [replace(r, number_encrypted=tokens.get(r.pseudonym, r.number_encrypted))
            for r in recipients]


def _tag(session: Session, pseudonyms: list[str], tag: str, now: datetime) -> None:
    """Add `tag` to these contacts' tags (a JSON list: read, then written where it is new)."""
    for chunk in _chunks(pseudonyms, 900):
        for contact in session.exec(select(Contact).where(col(Contact.pseudonym).in_(chunk))):
            if tag not in (contact.tags or []):
                contact.tags = [*(contact.tags or []), tag]
                contact.updated_at = now
                session.add(contact)
    session.flush()


def queue_invites(
    session: Session, settings: Settings, broadcast: Broadcast,
    recipients: Sequence[Recipient], now: datetime,
) -> list[JobPlan]:
    """One "bulk", "low" row per recipient (none twice), grouped into `send_batch` jobs."""
    text = prepare(broadcast.text, transliterate=settings.sms.transliterate)
    measured = analyse(text)
    shared = {"sender": None, "text": text, "kind": "bulk", "priority": "low",
              "status": "queued", "encoding": measured.encoding, "segments": measured.segments,
              "attempts": 0, "broadcast_id": broadcast.id, "created_at": now, "updated_at": now}
    for provider, members in _by_provider(recipients).items():
        cost = round(measured.segments * segment_price(settings, provider), 6)
        rows = list(_invite_rows(broadcast, members, bulk_job_size(settings, provider)))
        insert_ignoring(session, _table(OutboundMessage), rows, "dedupe_key",
                        same={**shared, "provider": provider, "cost_estimate": cost})
    queued = session.exec(select(OutboundMessage.id, OutboundMessage.job_id).where(
        OutboundMessage.broadcast_id == broadcast.id, OutboundMessage.status == "queued",
    ).order_by(col(OutboundMessage.id))).all()
    by_job: dict[str, list[int]] = {}
    for message_id, job_id in queued:
        by_job.setdefault(job_id or f"sms-{message_id}", []).append(message_id)
    return [JobPlan(job_id, "low", tuple(ids), batch=job_id.startswith("sms-batch-"))
            for job_id, ids in by_job.items()]


def _by_provider(recipients: Sequence[Recipient]) -> dict[str, list[Recipient]]:
    """Recipients we have a number for, by the provider that texts them."""
    by_provider: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        if recipient.number_encrypted:
            by_provider.setdefault(recipient.provider, []).append(recipient)
    return by_provider


def _invite_rows(
    broadcast: Broadcast, members: list[Recipient], size: int
) -> Iterator[dict[str, Any]]:
    """What differs between invites: who, their number, the dedupe key, the job (`size` a job)."""
    for start_at in range(0, len(members), size):
        job_id = f"sms-batch-{uuid.uuid4().hex}"
        for r in members[start_at:start_at + size]:
            yield {"contact_pseudonym": r.pseudonym, "number_encrypted": r.number_encrypted,
                   "dedupe_key": f"broadcast:{broadcast.id}:{r.pseudonym}", "job_id": job_id}


def mark_live(session: Session, flow: str, now: datetime) -> None:
    poll = session.get(Poll, flow) or Poll(flow=flow)
    poll.status, poll.updated_at = "live", now
    session.add(poll)


def _chunks(items: list, size: int) -> Iterable[list]:
    return (items[start:start + size] for start in range(0, len(items), size))


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined]
