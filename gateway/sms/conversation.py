"""The SMS host around the pure engine: one inbound SMS in, the replies to queue out.

Per message:
1. Drop duplicates and floods, in one Redis call (gateway.sms.rate_limit.dedupe_and_admit):
   `SET gw:sms:seen:{provider}:{id} NX`, for a minute while the message is processed, then for
   sms.dedupe_seconds (the provider's retry of a message we already took is acknowledged and
   not processed again); then the sender's per-number limit: a message over it is acknowledged
   and dropped, unanswered; STOP always gets through.
2. In one SQL transaction: record the inbound message (its unique constraint backs the dedupe
   key), lock or create the contact (so messages of one contact take turns), read its open SMS
   run and remembered language from Redis (one MGET), decide (`decide`, pure), update the
   contact (STOP, START, help sent), add the replies to the outbox; then save the run in Redis
   by compare-and-set; then commit. Replies are enqueued for sending only after the commit.
   The usual message is four plain SQL statements (insert, update-returning, insert, commit)
   and three Redis calls in that thread (MGET, the save, RQ's enqueue), besides step 1's call
   and the closing `SET ... done`: bench/PROFILE.md says what the ORM cost here.
If anything fails on the way, nothing stays half-written: the SQL transaction is rolled back,
a Redis save already made is undone, and the dedupe key is deleted (or, Redis gone, expires
within the minute), so the provider's retry is processed afresh. A lost compare-and-set (the
sweeper closed the run meanwhile) rolls back and starts step 2 again.

What a message means, in order:
- the contact has opted out: only START does anything (it confirms); everything else is
  recorded and left unanswered;
- STOP / START / HELP (settings [sms.commands], the whole message, any language, inside a flow
  or not): STOP closes the open run (incomplete), opts out and queues one confirmation (kind
  "notice", the only kind the outbox sends to an opted-out contact); HELP lists the keywords and
  how to stop, and repeats the open question (so does START from a contact who never stopped);
- a keyword (settings [sms.keywords]; the first word, or the whole message while a flow is open,
  so a free-text answer such as "vote for lights" stays an answer) starts its flow, recording an
  open run of another flow as incomplete;
- "STATUS R-7K3Q" (two words; HALI, STATUT too): the report's status, in detail for its
  reporter only (gateway.reports.service.status_for); "REOPEN R-7K3Q" (FUNGUA, ROUVRIR): its
  reporter reopens a resolved report within reports.reopen_days;
- an open run: the message answers its step (a menu by number or by word);
- otherwise the short help, at most once per sms.help_interval_seconds per contact.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
from redis.exceptions import RedisError
from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from gateway import contacts, outbox
from gateway.channels.base import InboundSms
from gateway.config import Settings, SmsSettings
from gateway.contacts import ContactState
from gateway.crypto import encrypt_number
from gateway.flows import engine
from gateway.flows.engine import FlowData, RunState, Turn
from gateway.flows.model import Flow, ReportLine
from gateway.flows.texts import SystemTexts
from gateway.hop_redis import HopRedis
from gateway.models import InboundMessage, OutboundMessage, Report, row_defaults
from gateway.outbox import JobPlan
from gateway.phone import mask, pseudonym
from gateway.reports import mine
from gateway.reports.reference import normalize as normalize_reference
from gateway.reports.reference import reference_for
from gateway.reports.service import ReopenRefused, ReportContext, find, reopen, status_for
from gateway.sessions import StoredRun, finished_entry
from gateway.sms import rate_limit, sessions
from gateway.sms.keywords import command, fold, match_keyword
from gateway.sms.sessions import Change, Loaded

if TYPE_CHECKING:
    from gateway.areas import AreaTree
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "sms"
SCREEN_LIMIT = 1600  # one SMS reply may hold a whole menu: the longest text providers send
SAVE_ATTEMPTS = 5
# The dedupe key is short-lived while a message is being processed: if processing fails and the
# key cannot even be deleted (Redis went away), the provider's later retry still gets through.
PENDING_SECONDS = 60
# Control characters other than tab and newline, in both C0 and C1; NUL included.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Kind = Literal["reply", "notice"]
STATUS_WORDS = ("status", "hali", "statut")  # "STATUS R-7K3Q": see _report_command
REOPEN_WORDS = ("reopen", "fungua", "rouvrir")  # "REOPEN R-7K3Q": see _report_command


class Conflict(RuntimeError):
    """The open run kept changing under this message on every attempt."""


@dataclass(frozen=True)
class Reply:
    text: str
    kind: Kind = "reply"  # "notice": the STOP confirmation, sent although the contact stopped


@dataclass(frozen=True)
class Received:
    """What became of one inbound SMS; `replies` are what was queued (or, simulated, would be)."""

    outcome: Literal["processed", "duplicate", "rate_limited"]  # rate_limited: dropped, unanswered
    replies: tuple[Reply, ...] = ()
    message_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Text:
    """An inbound text made safe to keep: cleaned, cut to the limit, with its original length."""

    text: str
    truncated: bool
    original_length: int


def prepare_text(raw: str, limit: int) -> Text:
    """Control characters become spaces (NUL too), CRLF a newline; longer texts are cut."""
    text = _CONTROL.sub(" ", raw.replace("\r\n", "\n").replace("\r", "\n"))
    return Text(text[:limit], len(text) > limit, len(raw))


def dedupe_key(provider: str, provider_id: str) -> str:
    return f"gw:sms:seen:{provider}:{provider_id}"


# --- receiving (I/O) -----------------------------------------------------------------------------


async def receive(
    runtime: Runtime, sms: InboundSms, *, simulated: bool = False, redis: Any = None
) -> Received:
    """Process one inbound SMS once. Raises Redis and SQL errors (the webhook answers 503).

    `simulated` (gateway simulate): no dedupe, no inbound row, nothing queued; the replies
    that would have been queued are returned. `redis`: the client for the duplicate check
    and the per-number limit (the web process passes its lean gateway.hop_redis client);
    by default the runtime's redis-py client.
    """
    settings = runtime.settings
    contact = pseudonym(sms.sender, settings.secret_key)
    if simulated:
        return await _receive(runtime, sms, contact, simulated)
    client = runtime.redis if redis is None else redis
    key = dedupe_key(sms.provider, sms.provider_id)
    # One call: the duplicate check, then the sender's per-number limit. STOP always gets
    # through; it is confirmed once, then an opted-out contact gets nothing until a START,
    # which the limit counts.
    outcome = await rate_limit.dedupe_and_admit(
        client, key, f"pending:{uuid.uuid4().hex}", contact, settings.sms,
        pending_seconds=PENDING_SECONDS,
        limited=command(sms.text, settings.sms.commands) != "stop")
    if outcome == "duplicate":
        return Received("duplicate")
    if outcome != "allowed":  # dropped, and its key already kept for the dedupe window
        if outcome == "refused_first":
            log.warning("sms from %s: more than %d messages a minute, dropping the rest "
                        "unanswered", mask(sms.sender), settings.sms.per_number_per_minute)
        return Received("rate_limited")
    try:
        received = await _receive(runtime, sms, contact, simulated)
    except BaseException:
        await _forget(client, key)
        raise
    await _remember(client, key, settings.sms.dedupe_seconds)
    return received


async def _receive(
    runtime: Runtime, sms: InboundSms, contact: str, simulated: bool
) -> Received:
    text = prepare_text(sms.text, runtime.settings.sms.max_inbound_chars)
    if text.truncated:
        log.info("sms from %s: %d characters, truncated to %d",
                 mask(sms.sender), text.original_length, len(text.text))
    for _ in range(SAVE_ATTEMPTS):
        done = await anyio.to_thread.run_sync(
            _transaction, runtime, sms, contact, text, simulated, limiter=_limiter(runtime))
        if done is not None:
            return done
    raise Conflict(f"sms from {mask(sms.sender)}: the open run kept changing")


_limiters: dict[asyncio.AbstractEventLoop, tuple[int, anyio.CapacityLimiter]] = {}


def _limiter(runtime: Runtime) -> anyio.CapacityLimiter:
    """At most as many SMS transactions at once as the database pool keeps connections.

    A burst of webhooks took one worker thread each (40 by default), so up to 15 pooled
    connections (5 kept, 10 "overflow"), and SQLAlchemy closes an overflow connection when it
    is handed back while 5 are idle: under steady load about one inbound SMS in four opened a
    new PostgreSQL connection (measured in bench runs: 257 connections for 900 webhooks), the
    most expensive thing it did. Waiting here for one of the kept connections costs nothing:
    the transactions take a few milliseconds, and two cores run no more of them at once anyway.
    One limiter per event loop (tests run several, one after the other).
    """
    loop = asyncio.get_running_loop()
    held = _limiters.get(loop)
    size = _pool_size(runtime)
    if held is None or held[0] != size:
        for old in [known for known in _limiters if known.is_closed()]:
            del _limiters[old]
        held = _limiters[loop] = (size, anyio.CapacityLimiter(size))
    return held[1]


def _pool_size(runtime: Runtime) -> int:
    size = getattr(runtime.engine.pool, "size", None)
    return max(1, size()) if callable(size) else 5


def _transaction(
    runtime: Runtime, sms: InboundSms, contact: str, text: Text, simulated: bool
) -> Received | None:
    """Record, decide, save, commit; None when it must start again (see the module docstring).

    The usual message is four SQL statements on one connection (record it, lock the contact,
    add the reply, commit), written as plain statements: through the ORM's unit of work the
    same statements cost several times their own CPU. The ORM session is still there, on the
    same transaction, for what is rare (STATUS, REOPEN, "My reports").
    """
    settings = runtime.settings
    now = time.time()
    moment = datetime.fromtimestamp(now, UTC)
    with Session(runtime.engine, expire_on_commit=False) as session:
        connection = session.connection()
        if not simulated and not _record(connection, sms, contact, text, moment):
            session.rollback()
            return Received("duplicate")
        try:
            person = contacts.claim(connection, contact, now=moment,
                                    provider=None if simulated else sms.provider,
                                    number=sms.sender, secret_key=settings.secret_key)
        except IntegrityError:  # a first message of the same new contact won the insert
            session.rollback()
            return None
        loaded = sessions.load_sync(runtime.redis_sync, contact)  # after the lock: fresh
        conv = _conversation(runtime, contact, now, simulated)
        # the contact's stored ciphertext answers it (gateway.contacts.claim): encrypting
        # costs tens of µs a call
        number = person.number_encrypted
        conv.number = lambda: number or encrypt_number(sms.sender, settings.secret_key)
        conv.reports = functools.cache(lambda: mine.lines_for(
            session, contact, reopen_days=settings.reports.reopen_days))
        command = _report_command(session, runtime, person, loaded, text.text, simulated)
        plan, notices = command or (
            decide(conv, loaded, _who(person, moment, settings.sms), text.text), [])
        _apply_to_contact(connection, person, plan, moment)
        ttl = settings.sms.session_ttl_seconds
        change = plan.change
        if change is not None and not sessions.save(runtime.redis_sync, contact, loaded, change,
                                                    ttl=ttl):
            session.rollback()
            return None
        try:
            queued = [] if simulated else _queue(connection, runtime, sms, contact, plan.replies,
                                                 number=conv.number() or "",
                                                 opted_out=person.opted_out)
            session.commit()
        except BaseException:
            if change is not None:
                _undo(runtime, contact, loaded, change, ttl)
            raise
    # after the commit: a job must never carry the id of a row that is not there
    jobs = [job for _, job in queued if job is not None] + outbox.plan_jobs(notices)
    if jobs:
        outbox.enqueue_jobs(runtime.redis_sync, settings, jobs)
    ids = tuple(row_id for row_id, _ in queued) + tuple(row.id for row in notices if row.id)
    return Received("processed", plan.replies, ids)


def _conversation(runtime: Runtime, contact: str, now: float, simulated: bool) -> Conversation:
    return Conversation(
        flows=runtime.flows,
        texts=runtime.texts,
        sms=runtime.settings.sms,
        default_language=runtime.settings.languages.default,
        contact=contact,
        now=now,
        simulated=simulated,
        areas=runtime.areas,
    )


def _queue(
    connection: Connection, runtime: Runtime, sms: InboundSms, contact: str,
    replies: tuple[Reply, ...], *, number: str, opted_out: bool,
) -> list[tuple[int, JobPlan | None]]:
    """The replies as outbox rows in this transaction, sent from the number the SMS came to:
    each row's id and the job that will send it (None: not to be sent, the contact stopped).

    The rows are what `outbox.add_message` writes (tests/test_sms_hot_path.py compares them),
    inserted as one plain statement each: the contact's opt-out is the one this transaction
    locked and changed, so it is not read again.
    """
    queued = []
    for reply in replies:
        values = _reply_row(runtime.settings, sms, contact, reply, number, opted_out)
        row_id = connection.execute(_INSERT_OUTBOUND, values).scalar_one()
        job = None
        if values["status"] == "queued":
            # the job `outbox.job_key` names for a row of its own (the same test checks it)
            job = outbox.JobPlan(f"sms-{row_id}", values["priority"], (row_id,), batch=False)
        queued.append((row_id, job))
    return queued


_OUTBOUND = OutboundMessage.__table__  # type: ignore[attr-defined]
_INSERT_OUTBOUND = insert(_OUTBOUND).returning(_OUTBOUND.c.id)
_INSERT_INBOUND = insert(InboundMessage.__table__)  # type: ignore[attr-defined]


def _reply_row(
    settings: Settings, sms: InboundSms, contact: str, reply: Reply, number: str, opted_out: bool
) -> dict[str, object]:
    """The outbound_message row of one reply, every column (a plain INSERT fills no defaults)."""
    new = outbox.NewMessage(contact, sms.sender, sms.provider, reply.text, kind=reply.kind,
                            priority="high", sender=sms.to)
    values = row_defaults(OutboundMessage)
    values.update(outbox.message_values(settings, new, opted_out=opted_out,
                                        number_encrypted=number or None))
    return values


def _record(
    connection: Connection, sms: InboundSms, contact: str, text: Text, moment: datetime
) -> bool:
    """Insert the inbound message; False if the database already has it (a duplicate)."""
    values = row_defaults(InboundMessage)
    values.update(
        provider=sms.provider,
        provider_id=sms.provider_id,
        contact_pseudonym=contact,
        to=sms.to,
        text=text.text,
        truncated=text.truncated,
        original_length=text.original_length,
        received_at=moment,
    )
    try:
        connection.execute(_INSERT_INBOUND, values)
    except IntegrityError:
        return False
    return True


def _report_command(
    session: Session, runtime: Runtime, person: ContactState, loaded: Loaded, text: str,
    simulated: bool,
) -> tuple[Plan, list[OutboundMessage]] | None:
    """ "STATUS R-7K3Q" (also HALI, STATUT): the report's status; "REOPEN R-7K3Q" (FUNGUA,
    ROUVRIR): its reporter reopens it (gateway.reports.service). None for anything else.

    While a flow is open, only a message whose second word reads as a reference counts, so an
    answer that happens to start with "status" stays an answer. A simulated REOPEN only looks.
    """
    words = text.split()
    if person.opted_out or len(words) != 2:
        return None
    verb = fold(words[0])
    if verb not in STATUS_WORDS + REOPEN_WORDS:
        return None
    if loaded.run is not None and normalize_reference(words[1]) is None:
        return None
    language = loaded.language or person.language or runtime.settings.languages.default
    context = ReportContext(runtime.settings, runtime.texts)
    if verb in REOPEN_WORDS and not simulated:
        report = find(session, words[1])
        if report is not None:
            return _reopen(session, context, report, person, language)
    answer = status_for(session, context, reference=words[1], asker_pseudonym=person.pseudonym,
                        language=language)
    return Plan((Reply(answer),), None), []


def _reopen(
    session: Session, context: ReportContext, report: Report, person: ContactState,
    language: str,
) -> tuple[Plan, list[OutboundMessage]]:
    try:
        notices = reopen(session, context, report=report, asker_pseudonym=person.pseudonym,
                         answered=True)
    except ReopenRefused as refused:
        status = context.text(f"report_status_{report.status}", language)
        days = context.settings.reports.reopen_days
        answer = context.text(f"report_reopen_{refused.why}", language,
                              reference=report.reference, status=status, days=days)
        return Plan((Reply(answer),), None), []
    answer = context.text("report_reopened", language, reference=report.reference)
    return Plan((Reply(answer),), None), notices


def _who(person: ContactState, moment: datetime, sms: SmsSettings) -> Who:
    return Who(
        opted_out=person.opted_out,
        language=person.language,
        help_due=contacts.help_due(person, moment, sms.help_interval_seconds),
    )


def _apply_to_contact(
    connection: Connection, person: ContactState, plan: Plan, moment: datetime
) -> None:
    if plan.opt == "stop":
        contacts.opt_out(person, moment)
    elif plan.opt == "start":
        contacts.opt_in(person, moment)
    if plan.help_sent:
        contacts.mark_help_sent(person, moment)
    contacts.save(connection, person)


def _undo(runtime: Runtime, contact: str, loaded: Loaded, change: Change, ttl: int) -> None:
    try:
        sessions.undo(runtime.redis_sync, contact, loaded, change, ttl=ttl)
    except RedisError as error:
        log.error("sms: could not take back a session change (%s)", type(error).__name__)


async def _forget(client: Any, key: str) -> None:
    """Processing failed: let the provider's retry through (a failed delete expires soon)."""
    try:
        await _command(client, "DEL", key)
    except RedisError as error:
        log.warning("sms: dedupe key kept until it expires (%s)", type(error).__name__)


async def _remember(client: Any, key: str, seconds: int) -> None:
    """Processed: keep the id for the whole dedupe window (the SQL constraint backs it up)."""
    try:
        await _command(client, "SET", key, "done", "EX", seconds)
    except RedisError as error:
        log.warning("sms: dedupe key not extended (%s)", type(error).__name__)


async def _command(client: Any, *args: str | int) -> Any:
    """One command on redis-py's asyncio client or on gateway.hop_redis's."""
    if isinstance(client, HopRedis):
        return await client.execute(*args)
    return await client.execute_command(*args)


# --- deciding (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """What SQL knows about the contact that changes what a message means."""

    opted_out: bool = False
    language: str | None = None
    help_due: bool = True


@dataclass(frozen=True)
class Plan:
    """What a message leads to; `change=None` leaves Redis as it is."""

    replies: tuple[Reply, ...] = ()
    change: Change | None = None
    opt: Literal["stop", "start"] | None = None
    help_sent: bool = False


@dataclass
class Conversation:
    """Everything `decide` needs besides what was read; `new_id` is replaceable in tests."""

    flows: Mapping[str, Flow]
    texts: SystemTexts
    sms: SmsSettings
    default_language: str
    contact: str
    now: float
    simulated: bool = False
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)
    areas: AreaTree | None = None
    number: Callable[[], str | None] = field(default=lambda: None)  # encrypted, for reports
    # the contact's own reports ("My reports"), read only when a flow lists them
    reports: Callable[[], tuple[ReportLine, ...] | None] = field(default=lambda: ())

    def data(self, flow: Flow, run_id: str) -> FlowData:
        """Area menus, typed place names, "My reports", and a report flow's reference for its
        end screen."""
        context = {"reference": reference_for(run_id)} if flow.kind == "report" else {}
        lines = self.reports() if any(s.type == "reports" for s in flow.steps.values()) else ()
        return FlowData(areas=self.areas, channel=CHANNEL, context=context, reports=lines)

    def number_for(self, flow_name: str) -> str | None:
        flow = self.flows.get(flow_name)
        return self.number() if flow is not None and flow.kind == "report" else None


def decide(conv: Conversation, loaded: Loaded, who: Who, text: str) -> Plan:
    """The replies and the session change for one message (no I/O here)."""
    acc = _Accumulator(conv, loaded)
    run = acc.open_run()
    said = command(text, conv.sms.commands)
    if who.opted_out:
        return _while_stopped(conv, acc, who, said)
    if said == "stop":
        reply = Reply(_text(conv, "sms_stopped", _language(acc, who)), "notice")
        acc.close(conv.now)
        return Plan((reply,), acc.change(None), opt="stop")
    if said in ("help", "start"):  # START from a contact who never stopped: nothing to restart
        return Plan((Reply(_help(conv, acc, who, run)),), acc.keep())
    started = _keyword(conv, text, open_run=run is not None)
    if started is not None:
        flow, language = started
        acc.close(conv.now)
        acc.language = language
        chosen = language or loaded.language or who.language
        run_id = conv.new_id()
        turn = acc.apply(engine.start(
            flow, conv.texts, run_id=run_id, language=chosen, limit=SCREEN_LIMIT,
            data=conv.data(flow, run_id)))
        return _answer(conv, acc, flow, turn)
    if run is not None:
        flow = conv.flows.get(run.state.flow)
        if flow is None:  # the flow was removed while the run was open
            acc.close(conv.now)
            return _unknown(conv, acc, who)
        turn = acc.apply(engine.resume(
            flow, conv.texts, run.state, text, fresh_run_id=conv.new_id(), limit=SCREEN_LIMIT,
            data=conv.data(flow, run.state.run_id)))
        return _answer(conv, acc, flow, turn)
    return _unknown(conv, acc, who)


def _while_stopped(conv: Conversation, acc: _Accumulator, who: Who, said: str | None) -> Plan:
    language = _language(acc, who)
    acc.close(conv.now)  # none normally: STOP closed it (one left by a 21610 opt-out, maybe)
    if said != "start":
        return Plan((), acc.keep())
    reply = Reply(_with_keywords(conv, "sms_started", language))
    return Plan((reply,), acc.keep(), opt="start")


def _answer(conv: Conversation, acc: _Accumulator, flow: Flow, turn: Turn) -> Plan:
    text = turn.screen.text
    step = flow.steps.get(turn.state.step)
    if not turn.screen.final and step is not None and step.is_menu:
        text += "\n" + _text(conv, "sms_reply_hint", turn.state.language)
    run = None if turn.state.done else acc.stored(turn.state)
    return Plan((Reply(text),), acc.change(run))


def _unknown(conv: Conversation, acc: _Accumulator, who: Who) -> Plan:
    if not who.help_due:
        return Plan((), acc.keep())
    reply = Reply(_with_keywords(conv, "sms_unknown", _language(acc, who)))
    return Plan((reply,), acc.keep(), help_sent=True)


def _help(conv: Conversation, acc: _Accumulator, who: Who, run: StoredRun | None) -> str:
    language = _language(acc, who)
    text = _with_keywords(conv, "sms_help", language)
    flow = conv.flows.get(run.state.flow) if run else None
    if run is None or flow is None or run.state.step not in flow.steps:
        return text
    screen = engine.render(
        flow, conv.texts, run.state, limit=SCREEN_LIMIT, data=conv.data(flow, run.state.run_id))
    hint = flow.steps[run.state.step].is_menu
    question = screen.text + ("\n" + _text(conv, "sms_reply_hint", language) if hint else "")
    return f"{text}\n\n{question}"


def _keyword(conv: Conversation, text: str, *, open_run: bool) -> tuple[Flow, str | None] | None:
    """The flow (and language) a keyword starts; while a flow is open, only a one-word message."""
    if open_run and len(fold(text).split()) != 1:
        return None
    target = match_keyword(text, conv.sms.keywords)
    if target is None:
        return None
    name, _, language = target.partition(":")
    flow = conv.flows.get(name.strip())
    if flow is None:
        log.warning("sms: keyword for flow %r, which does not exist (yet): ignored", name[:40])
        return None
    language = language.strip()
    return flow, (language if language in flow.languages else None)


def keywords_for(conv: Conversation, language: str) -> str:
    """One keyword per existing flow, in `language` when there is one: "POLL, SURVEY"."""
    chosen: dict[str, str] = {}
    for rank in (language, "", None):  # that language, then no language, then any
        for keyword, target in conv.sms.keywords.items():
            name, _, lang = target.partition(":")
            if name in conv.flows and name not in chosen and (rank is None or lang == rank):
                chosen[name] = keyword
    order = list(dict.fromkeys(t.partition(":")[0] for t in conv.sms.keywords.values()))
    return ", ".join(chosen[name] for name in order if name in chosen)


def _with_keywords(conv: Conversation, key: str, language: str) -> str:
    return _text(conv, key, language, keywords=keywords_for(conv, language))


def _text(conv: Conversation, key: str, language: str, **values: object) -> str:
    return conv.texts.text(key, language, fallback=conv.default_language, **values)


def _language(acc: _Accumulator, who: Who) -> str:
    """The open run's language, else the remembered one (Redis, then SQL), else the default."""
    run = acc.open_run()
    if run is not None:
        return run.state.language
    return acc.loaded.language or who.language or acc.conv.default_language


class _Accumulator:
    """Folds the engine's events into the session change: finished runs, language, the run."""

    def __init__(self, conv: Conversation, loaded: Loaded) -> None:
        self.conv = conv
        self.loaded = loaded
        self.finished: list[str] = []
        self.language: str | None = None
        self._run = loaded.run
        if self._run is not None:
            if sessions.expired(self._run, conv.now, conv.sms.session_ttl_seconds):
                self.close(self._run.updated_at)

    def open_run(self) -> StoredRun | None:
        return self._run

    def close(self, ended_at: float) -> None:
        """The open run ends unanswered (STOP, expiry, another keyword): incomplete."""
        if self._run is not None:
            entry = finished_entry(self._run, self.conv.contact, "incomplete", ended_at)
            self.finished.append(entry)
            self._run = None

    def apply(self, turn: Turn) -> Turn:
        for event in turn.events:
            if isinstance(event, engine.LanguageChosen):
                self.language = event.language
            elif isinstance(event, engine.RunCompleted):
                self.finish(event.state, "completed")
            elif isinstance(event, engine.RunAbandoned):
                self.finish(event.state, _ABANDONED.get(event.reason, "incomplete"))
        return turn

    def finish(self, state: RunState, status: str) -> None:
        entry = finished_entry(
            self.stored(state), self.conv.contact, status, self.conv.now,
            number=self.conv.number_for(state.flow))
        self.finished.append(entry)

    def stored(self, state: RunState) -> StoredRun:
        """`state` with its host fields: carried over if it is the loaded run."""
        loaded = self.loaded.run
        if loaded is not None and loaded.state.run_id == state.run_id:
            return replace(loaded, state=state, updated_at=self.conv.now, hops=loaded.hops + 1)
        now = self.conv.now
        return StoredRun(state=state, channel=CHANNEL, started_at=now, updated_at=now, hops=1,
                         simulated=self.conv.simulated)

    def change(self, run: StoredRun | None) -> Change:
        return Change(run=run, language=self.language, finished=tuple(self.finished))

    def keep(self) -> Change | None:
        """The open run stays as it is: nothing to write unless an expired one was closed."""
        if not self.finished and not self.language:
            return None
        return self.change(self._run)


_ABANDONED = {"too_many_attempts": "failed"}
