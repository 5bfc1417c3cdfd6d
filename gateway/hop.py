"""The host around the pure engine: one USSD hop in, one screen out.

Per hop: route the service code to a flow, read everything in one MGET, let the engine decide,
write everything in one Lua compare-and-set. Finished runs leave Redis through the outbox in
that same write, so a completed answer is never only half-recorded.

When a contact dials again while an earlier run in the same flow is still open:
- updated more than `resume_window_seconds` ago: the old run is recorded as incomplete and a
  fresh run starts;
- within the window and at least one answer given: "Continue where you left off?";
- within the window and nothing answered yet: the open run simply carries on at its step
  (asking "continue?" about nothing would only waste a screen).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from gateway import db
from gateway.areas import AreaTree
from gateway.channels.africastalking import UssdHop
from gateway.crypto import encrypt_number
from gateway.flows import engine
from gateway.flows.engine import FlowData, RunState, Turn
from gateway.flows.model import Flow, ReportLine
from gateway.flows.render import Screen
from gateway.flows.texts import SystemTexts
from gateway.metrics import count_hop
from gateway.phone import mask, pseudonym
from gateway.reports import mine
from gateway.reports.reference import reference_for
from gateway.sessions import (
    Change,
    Loaded,
    SessionRecord,
    SessionStore,
    StoredRun,
    TooManyStarts,
    finished_entry,
    lang_key,
)
from gateway.ussd_text import Split, split_hop

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

CHANNEL = "ussd"
SAVE_ATTEMPTS = 3
LANGUAGE_LOOKUP_SECONDS = 0.25
# "My reports" says "not available now" rather than wait longer: well inside the hop's own
# deadline (gateway.web.ussd), and not tried at all for a few seconds after a failure.
REPORTS_LOOKUP_SECONDS = 0.25


class SessionConflict(RuntimeError):
    """The hop lost the compare-and-set race on every attempt."""


@functools.lru_cache(maxsize=16384)
def contact_for(phone: str, secret_key: str) -> str:
    """`pseudonym(phone, secret_key)`, remembered: every hop of a session repeats the number
    (an HMAC per hop otherwise). In this process's memory only, like the request itself."""
    return pseudonym(phone, secret_key)


def new_run_id() -> str:
    """128 random bits in hex, the shape of `uuid.uuid4().hex` without building a UUID object
    (a hop asks for one on every input); nothing parses run ids as UUIDs."""
    return os.urandom(16).hex()


async def handle_hop(
    runtime: Runtime, hop: UssdHop, *, simulated: bool = False, redis: Any = None
) -> Screen:
    """The screen for this hop; raises redis errors when Redis is unreachable.

    `redis`: the client for the hop's two round-trips (the web process passes its lean
    `gateway.hop_redis.HopRedis`); by default the runtime's redis-py client.
    """
    settings = runtime.settings
    flow_name = settings.ussd.routes.get(hop.service_code)
    flow = runtime.flows.get(flow_name) if flow_name else None
    if flow is None:
        count_hop("unavailable")
        return Screen(runtime.texts.text("unavailable", settings.languages.default), final=True)
    contact = contact_for(hop.phone, settings.secret_key)
    store = SessionStore(
        redis if redis is not None else runtime.redis,
        session_ttl=settings.ussd.session_ttl_seconds,
        resume_window=settings.ussd.resume_window_seconds,
    )
    lines: tuple[ReportLine, ...] | None = None
    lines_read = False
    for _ in range(SAVE_ATTEMPTS):
        loaded = await store.load(hop.session_id, contact, flow.name)
        session = loaded.session
        split = split_hop(session.text if session else None, hop.text)
        if session is not None and (split.kind != "input" or session.final):
            count_hop("replay")
            return Screen(session.screen, final=session.final)  # nothing written
        if session is not None:
            lines = session.reports
        elif _lists_reports(flow) and not lines_read:
            lines, lines_read = await own_reports(runtime, contact), True
        host = Host(
            flow=flow,
            texts=runtime.texts,
            contact=contact,
            now=time.time(),
            window=settings.ussd.resume_window_seconds,
            simulated=simulated,
            areas=runtime.areas,
            number=(
                encrypt_number(hop.phone, settings.secret_key) if flow.kind == "report" else None
            ),
            reports=lines,
        )
        screen, change = plan_hop(host, loaded, split, hop.text)
        # a new session counts against the number's starts a minute, in the same script
        limit = settings.ussd.per_number_starts_per_minute if split.kind == "start" else 0
        try:
            saved = await store.save(
                hop.session_id, contact, flow.name, loaded, change, starts_limit=limit)
        except TooManyStarts:
            count_hop("rate_limited")
            log.warning("ussd start from %s: more than %d sessions a minute, refused",
                     mask(hop.phone), limit)
            language = loaded.language or settings.languages.default
            return Screen(runtime.texts.text("too_many_starts", language,
                                             fallback=flow.default_language), final=True)
        if saved:
            count_hop("end" if screen.final else "continue")
            return screen
    raise SessionConflict(f"session {hop.session_id} kept changing under us")


def _lists_reports(flow: Flow) -> bool:
    return any(step.type == "reports" for step in flow.steps.values())


async def own_reports(runtime: Runtime, contact: str) -> tuple[ReportLine, ...] | None:
    """The citizen's reports for "My reports" (one SQL read, in a thread), None if not now."""
    days = runtime.settings.reports.reopen_days
    if db.recently_unreachable(runtime.engine):
        return None
    try:
        async with asyncio.timeout(REPORTS_LOOKUP_SECONDS):
            return await run_in_threadpool(
                mine.read_lines, runtime.engine, contact, reopen_days=days)
    except (SQLAlchemyError, TimeoutError) as error:  # the rest of the flow still works
        db.note_unreachable(runtime.engine)
        log.warning("my reports unavailable: %s", type(error).__name__)
        return None


async def citizen_language(runtime: Runtime, hop: UssdHop) -> str:
    """Best effort, for the apology screen: the remembered language, else the default."""
    default = runtime.settings.languages.default
    contact = contact_for(hop.phone, runtime.settings.secret_key)
    try:
        async with asyncio.timeout(LANGUAGE_LOOKUP_SECONDS):
            raw = await runtime.redis.get(lang_key(contact))
    except (RedisError, TimeoutError) as error:  # the apology must not fail too
        log.warning("apology in the default language: %s", type(error).__name__)
        return default
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return raw or default


@dataclass
class Host:
    """Everything a hop needs besides what Redis held; `new_id` is replaceable in tests."""

    flow: Flow
    texts: SystemTexts
    contact: str
    now: float
    window: int
    simulated: bool = False
    new_id: Callable[[], str] = new_run_id
    areas: AreaTree | None = None
    number: str | None = None  # encrypted; report flows only, for the "report received" SMS
    reports: tuple[ReportLine, ...] | None = None  # the citizen's own, for "My reports"

    def data(self, run_id: str) -> FlowData:
        """What the engine may show: area menus, "My reports" and, in a report flow, the run's
        reference."""
        context = {"reference": reference_for(run_id)} if self.flow.kind == "report" else {}
        return FlowData(areas=self.areas, channel=CHANNEL, context=context, reports=self.reports)


def plan_hop(host: Host, loaded: Loaded, split: Split, text: str) -> tuple[Screen, Change]:
    """Run the engine for this hop and say what to write (no I/O here)."""
    acc = _Accumulator(host, loaded.run)
    if split.kind == "start":
        turn = acc.apply(_first_turn(host, loaded, acc))
        inputs = split.inputs
    else:
        turn = acc.apply(_next_turn(host, loaded, split.inputs[0], acc))
        inputs = ()
    for one in inputs:
        if turn.screen.final:
            break
        turn = acc.apply(engine.resume(
            host.flow, host.texts, turn.state, one, fresh_run_id=host.new_id(),
            data=host.data(turn.state.run_id)))
    session = SessionRecord(
        text, turn.screen.text, turn.screen.final, turn.state.run_id, reports=host.reports)
    return turn.screen, Change(
        session=session,
        run=acc.open_run(turn),
        language=acc.language,
        outbox=tuple(acc.outbox),
    )


def _first_turn(host: Host, loaded: Loaded, acc: _Accumulator) -> Turn:
    run = loaded.run
    if run is not None and host.now - run.updated_at > host.window:
        acc.outbox.append(
            finished_entry(run, host.contact, "incomplete", run.updated_at, number=host.number))
        acc.forget_loaded()
        run = None
    if run is None or run.state.done:
        acc.forget_loaded()
        run_id = host.new_id()
        return engine.start(
            host.flow, host.texts, run_id=run_id, language=loaded.language, data=host.data(run_id))
    data = host.data(run.state.run_id)
    if run.state.answers:
        return engine.offer_resume(host.flow, host.texts, run.state, data=data)
    state = run.state.evolve(page=0, attempts=0, pending=None)
    screen = engine.render(host.flow, host.texts, state, data=data)
    return Turn(state=state, screen=screen, events=())


def _next_turn(host: Host, loaded: Loaded, text: str, acc: _Accumulator) -> Turn:
    run, session = loaded.run, loaded.session
    if run is None or session is None or run.state.run_id != session.run_id:
        # The open run ended elsewhere (swept after the window): begin again, quietly.
        acc.forget_loaded()
        run_id = host.new_id()
        return engine.start(
            host.flow, host.texts, run_id=run_id, language=loaded.language, data=host.data(run_id))
    return engine.resume(
        host.flow, host.texts, run.state, text, fresh_run_id=host.new_id(),
        data=host.data(run.state.run_id))


class _Accumulator:
    """Folds the engine's events into host bookkeeping: outbox entries, language, run fields."""

    def __init__(self, host: Host, loaded_run: StoredRun | None) -> None:
        self.host = host
        self.loaded = loaded_run
        self.outbox: list[str] = []
        self.language: str | None = None

    def forget_loaded(self) -> None:
        self.loaded = None

    def apply(self, turn: Turn) -> Turn:
        for event in turn.events:
            if isinstance(event, engine.LanguageChosen):
                self.language = event.language
            elif isinstance(event, engine.RunCompleted):
                self.finish(event.state, "completed")
            elif isinstance(event, engine.RunAbandoned):
                status = "failed" if event.reason == "too_many_attempts" else "incomplete"
                self.finish(event.state, status)
        return turn

    def finish(self, state: RunState, status: str) -> None:
        run = self.stored(state)
        self.outbox.append(
            finished_entry(run, self.host.contact, status, self.host.now, number=self.host.number))

    def stored(self, state: RunState) -> StoredRun:
        """`state` with its host fields: carried over from Redis if it is the loaded run."""
        loaded = self.loaded
        if loaded is not None and loaded.state.run_id == state.run_id:
            return StoredRun(state, loaded.channel, loaded.started_at, self.host.now,
                             loaded.hops + 1, loaded.simulated)
        return StoredRun(
            state=state,
            channel=CHANNEL,
            started_at=self.host.now,
            updated_at=self.host.now,
            hops=1,
            simulated=self.host.simulated,
        )

    def open_run(self, turn: Turn) -> StoredRun | None:
        if turn.state.done:  # an END screen: the run left through the outbox
            return None
        return self.stored(turn.state)
