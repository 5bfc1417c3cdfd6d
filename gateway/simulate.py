"""`gateway simulate`: play a citizen in the terminal, through the same code as the webhooks.

USSD: the screens are exactly what Africa's Talking would get (`CON `/`END ` included).
SMS (`--channel sms`): each line typed is one SMS through the SMS conversation code; what is
printed is the replies that would be queued (nothing is queued or sent). The flow's keyword is
texted first; the conversation ends when its run does (or at end of input).
The runs are marked simulated. Redis: REDIS_URL if set, else the embedded one of a running
`gateway run` (var/redis.sock), else a temporary embedded Redis that lives as long as this
command. SMS also needs the database (contacts: STOP, language, help sent).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import redis
from sqlalchemy.exc import SQLAlchemyError

from gateway.channels.africastalking import UssdHop, render_ussd
from gateway.channels.base import InboundSms
from gateway.config import Settings
from gateway.embedded_redis import EmbeddedRedisError, socket_answers, start_embedded_redis
from gateway.phone import InvalidPhoneNumber, normalise_e164, pseudonym
from gateway.sessions import OUTBOX, OUTBOX_PROCESSING, lang_key

if TYPE_CHECKING:
    from gateway.runtime import Runtime

DEFAULT_PHONE = "+254700000000"
SMS_NEEDS_FLOW = "simulate: --channel sms needs --flow (service codes are USSD only)"
NO_REPLY = "(no reply)"


def main(
    settings: Settings,
    args: argparse.Namespace,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    sms = getattr(args, "channel", "ussd") == "sms"
    if sms and not getattr(args, "flow", None):
        print(SMS_NEEDS_FLOW, file=sys.stderr)
        return 2
    try:
        phone = normalise_e164(args.phone or DEFAULT_PHONE)
    except InvalidPhoneNumber:
        print("simulate: --phone is not a valid phone number", file=sys.stderr)
        return 2
    if args.lang and args.lang not in settings.languages.supported:
        supported = ", ".join(settings.languages.supported)
        print(f"simulate: --lang must be one of {supported}", file=sys.stderr)
        return 2
    if sms:
        settings, code = keyword_for(settings, args.flow, args.lang)
    else:
        settings, code = route_for(
            settings, getattr(args, "flow", None), getattr(args, "code", None))
    if code is None:
        print(f"simulate: unknown flow {args.flow!r}", file=sys.stderr)
        return 2
    try:
        with _redis_url(settings) as (url, temporary):
            settings = dataclasses.replace(settings, redis_url=url)
            player = _play_sms if sms else _play
            play = player(settings, code, phone, args.lang, stdin, stdout, record=temporary)
            return asyncio.run(play)
    except (redis.RedisError, EmbeddedRedisError) as error:
        print(f"simulate: redis unavailable ({error})", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(f"simulate: the database is unavailable ({type(error).__name__}; "
              "has `gateway db upgrade` run?)", file=sys.stderr)
        return 1


async def _play(
    settings: Settings, code: str, phone: str, lang: str | None, stdin: TextIO, stdout: TextIO,
    *, record: bool,
) -> int:
    """`record`: no worker shares this Redis, so store the finished run in SQL ourselves."""
    from gateway.hop import handle_hop
    from gateway.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        if lang:
            await runtime.redis.set(lang_key(pseudonym(phone, settings.secret_key)), lang)
        session_id, text, typed = f"sim-{uuid.uuid4().hex}", "", []
        while True:
            hop = UssdHop(session_id, code, phone, "sim", text)
            screen = await handle_hop(runtime, hop, simulated=True)
            print(render_ussd(screen), file=stdout, flush=True)
            if screen.final:
                return 0
            print("> ", end="", file=stdout, flush=True)
            line = stdin.readline()
            if not line:
                print("\n(hung up)", file=stdout)
                return 0
            typed.append(line.rstrip("\r\n"))
            text = "*".join(typed)
    finally:
        if record:
            _record(runtime)
        await runtime.aclose()


async def _play_sms(
    settings: Settings, keyword: str, phone: str, lang: str | None, stdin: TextIO,
    stdout: TextIO, *, record: bool,
) -> int:
    """Text the keyword, then one SMS per line, until the run ends or the input does."""
    from gateway.runtime import build_runtime
    from gateway.sms import conversation, sessions
    from gateway.sms.encoding import prepare

    runtime = build_runtime(settings)
    contact = pseudonym(phone, settings.secret_key)
    try:
        if lang:
            await runtime.redis.set(lang_key(contact), lang)
        text: str | None = keyword
        print(f"> {keyword}", file=stdout, flush=True)
        while text is not None:
            sms = InboundSms("simulate", f"sim-{uuid.uuid4().hex}", phone, "simulate", text)
            received = await conversation.receive(runtime, sms, simulated=True)
            replies = [prepare(r.text, transliterate=settings.sms.transliterate)
                       for r in received.replies] or [NO_REPLY]  # as the outbox would send
            print("\n\n".join(replies), file=stdout, flush=True)
            if (await sessions.load(runtime.redis, contact)).run is None:
                return 0
            text = _next_sms(stdin, stdout)
        print("\n(stopped texting)", file=stdout)
        return 0
    finally:
        if record:
            _record(runtime)
        await runtime.aclose()


def _next_sms(stdin: TextIO, stdout: TextIO) -> str | None:
    print("> ", end="", file=stdout, flush=True)
    line = stdin.readline()
    return line.rstrip("\r\n") if line else None


def keyword_for(
    settings: Settings, flow: str, lang: str | None
) -> tuple[Settings, str | None]:
    """The keyword to text: the flow's (in `lang` if it has one), else a private one."""
    if not (Path(settings.app.flows_dir) / f"{flow}.toml").is_file():
        return settings, None
    keywords = settings.sms.keywords
    targets = [f"{flow}:{lang}", flow] if lang else [f"{flow}:{settings.languages.default}", flow]
    for target in targets:
        for keyword, routed in keywords.items():
            if routed == target:
                return settings, keyword
    for keyword, routed in keywords.items():
        if routed.partition(":")[0] == flow:
            return settings, keyword
    private = f"SIMULATE-{flow}"
    sms = dataclasses.replace(settings.sms, keywords={**keywords, private: flow})
    return dataclasses.replace(settings, sms=sms), private


def _record(runtime: Runtime) -> None:
    from gateway.runs import drain_outbox

    drain_outbox(runtime.redis_sync, runtime.engine)
    if runtime.redis_sync.llen(OUTBOX) + runtime.redis_sync.llen(OUTBOX_PROCESSING):
        print("simulate: the finished run was not stored: the database is unavailable "
              "(has `gateway db upgrade` run?)", file=sys.stderr)


def route_for(
    settings: Settings, flow: str | None, code: str | None
) -> tuple[Settings, str | None]:
    """The service code to dial; a flow without a route gets a private one for this run."""
    routes = settings.ussd.routes
    if code:
        return settings, code
    for known, name in routes.items():
        if name == flow:
            return settings, known
    if not (Path(settings.app.flows_dir) / f"{flow}.toml").is_file():
        return settings, None
    private = f"*simulate*{flow}#"
    ussd = dataclasses.replace(settings.ussd, routes={**routes, private: flow})
    return dataclasses.replace(settings, ussd=ussd), private


@contextmanager
def _redis_url(settings: Settings) -> Iterator[tuple[str, bool]]:
    """(url, temporary): REDIS_URL, else `gateway run`'s embedded Redis, else a temporary one."""
    if settings.redis_url:
        yield settings.redis_url, False
        return
    running = Path(settings.app.var_dir).resolve() / "redis.sock"
    if socket_answers(running):
        yield f"unix://{running}", False
        return
    with tempfile.TemporaryDirectory(prefix="gw-sim-") as var:
        server = start_embedded_redis(var)
        try:
            yield server.url, True
        finally:
            server.stop()
