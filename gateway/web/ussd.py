"""USSD webhooks: Africa's Talking hops and end-of-session notifications.

Bad input gets a 400 with a one-line reason before anything is touched; Redis or the database
being down gets a quick 503 (the provider may retry); any other failure still gives the
citizen a short apology END screen in their language, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.channels.africastalking import (
    BadRequest,
    UssdEvent,
    UssdHop,
    parse_ussd_event,
    parse_ussd_hop,
    render_ussd,
)
from gateway.hop import citizen_language, handle_hop
from gateway.metrics import USSD_HOP_SECONDS, WEBHOOK_REJECTIONS, count_hop
from gateway.models import UssdSessionRecord
from gateway.phone import mask, pseudonym

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# An end-of-session event is one small SQL insert; past this the database is away: 503, and
# Africa's Talking sends the event again later (the insert is once per sessionId).
EVENT_DEADLINE_SECONDS = 6.0
LAST_RESPONSE_LIMIT = 182


async def africastalking_hop(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        hop = parse_ussd_hop(await read_form(request, _max_body(runtime)))
    except BadRequest as error:
        return _bad(error)
    started = perf_counter()
    try:
        return await _answer(runtime, hop, getattr(request.app.state, "hop_redis", None))
    finally:  # what `USSD_HOP_SECONDS.time()` does, without a timer object per hop
        USSD_HOP_SECONDS.observe(perf_counter() - started)


async def _answer(runtime: Runtime, hop: UssdHop, hop_redis: Any = None) -> Response:
    try:
        # A hop is two Redis round-trips of a millisecond or so. Past ussd.hop_deadline_seconds
        # (0.5) Redis is down or too sick: say 503 at once rather than hang towards AT's 10 s.
        async with asyncio.timeout(runtime.settings.ussd.hop_deadline_seconds):
            screen = await handle_hop(runtime, hop, redis=hop_redis)
    except (RedisConnectionError, RedisTimeoutError, TimeoutError) as error:
        count_hop("redis_down")
        log.warning("ussd hop from %s: redis unavailable (%s)",
                    mask(hop.phone), type(error).__name__)
        return PlainTextResponse("redis unavailable", status_code=503)
    except Exception:
        count_hop("error")
        log.exception("ussd hop from %s failed", mask(hop.phone))
        language = await citizen_language(runtime, hop)
        return PlainTextResponse("END " + runtime.texts.text("apology", language))
    return PlainTextResponse(render_ussd(screen))


async def africastalking_events(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        event = parse_ussd_event(await read_form(request, _max_body(runtime)))
    except BadRequest as error:
        return _bad(error)
    contact = pseudonym(event.phone, runtime.settings.secret_key) if event.phone else None
    try:
        async with asyncio.timeout(EVENT_DEADLINE_SECONDS):
            await run_in_threadpool(
                record_ussd_session, engine=runtime.engine, event=event, contact=contact
            )
    except (SQLAlchemyError, TimeoutError) as error:
        log.warning("ussd session event: database unavailable (%s)", type(error).__name__)
        return PlainTextResponse("database unavailable", status_code=503)
    return PlainTextResponse("ok")


def record_ussd_session(*, engine: Engine, event: UssdEvent, contact: str | None) -> bool:
    """Store AT's end-of-session notification once per sessionId; False if already stored."""
    with Session(engine) as session:
        query = select(UssdSessionRecord.id).where(
            UssdSessionRecord.session_id == event.session_id
        )
        if session.exec(query).first() is not None:
            return False
        session.add(UssdSessionRecord(
            session_id=event.session_id,
            service_code=event.service_code,
            network_code=event.network_code or None,
            status=event.status,
            cost=event.cost or None,
            duration_ms=event.duration_ms,
            hops_count=event.hops_count,
            error_message=event.error_message or None,
            contact_pseudonym=contact,
            last_response=event.last_app_response[:LAST_RESPONSE_LIMIT] or None,
            received_at=datetime.now(UTC),
        ))
        try:
            session.commit()
        except IntegrityError:  # the same notification, delivered twice at once
            session.rollback()
            return False
    return True


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """The request's form fields, refusing non-forms, big bodies and repeated fields."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (URLENCODED, MULTIPART):
        raise BadRequest(f"content type must be {URLENCODED}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"body larger than {limit} bytes", status=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"body larger than {limit} bytes", status=413)
    pairs = await _pairs(request, kind, body)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise BadRequest(f"field {name} given twice", label="repeated field")
        form[name] = value
    return form


async def _pairs(request: Request, kind: str, body: bytes) -> list[tuple[str, str]]:
    if kind == URLENCODED:
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("body is not a UTF-8 form") from None

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=0, max_fields=64)
    except MultiPartException as error:
        reason = f"bad multipart body: {error.message}"
        raise BadRequest(reason, label="bad multipart body") from None
    return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]


def _bad(error: BadRequest) -> Response:
    WEBHOOK_REJECTIONS.labels(reason=error.label).inc()
    return PlainTextResponse(error.reason, status_code=error.status)


def _max_body(runtime: Runtime) -> int:
    return runtime.settings.app.max_body_bytes


routes: list[Route] = [
    Route("/ussd/africastalking", africastalking_hop, methods=["POST"]),
    Route("/ussd/africastalking/events", africastalking_events, methods=["POST"]),
]
