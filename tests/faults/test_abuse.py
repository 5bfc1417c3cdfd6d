"""One number flooding the SMS webhook cannot starve other citizens, nor make us answer it all.

The real app (its lifespan included) answers over ASGI, against the real Redis and database. One
number sends 100 texts as fast as the gateway takes them (ten posts in flight at any time), each
of which would get a reply, while ten citizens answer the budget poll message by message. What
each number "receives" is what the outbox queued for it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from sms_support import AT_INBOUND, at_form
from sqlalchemy import func
from sqlmodel import Session, select
from ussd_support import fresh_phone

from gateway.app import create_app
from gateway.config import Settings
from gateway.metrics import REGISTRY
from gateway.models import InboundMessage, OutboundMessage
from gateway.phone import mask, pseudonym
from gateway.sms.rate_limit import KEY

pytestmark = [pytest.mark.anyio, pytest.mark.fault]

FLOOD = 100
CONNECTIONS = 10  # the provider's parallel webhook posts for the flooding number
CITIZENS = 10
# POLL, then the budget poll's answers over SMS: project 1, age band 2, ward 3, no comment, send.
ANSWERS = ("POLL", "1", "2", "3", "0", "1")
THANKS = "Thank you! Your vote for Water kiosks is recorded."


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def text(client: httpx.AsyncClient, phone: str, message: str) -> None:
    response = await client.post(AT_INBOUND, data=at_form(phone, message))
    assert response.status_code == 200, response.text


def replies_to(settings: Settings, engine, phone: str) -> list[str]:
    contact = pseudonym(phone, settings.secret_key)
    with Session(engine) as session:
        rows = session.exec(select(OutboundMessage.text)
                            .where(OutboundMessage.contact_pseudonym == contact)
                            .order_by(OutboundMessage.id))
        return list(rows)


def inbound_from(settings: Settings, engine, phone: str) -> int:
    contact = pseudonym(phone, settings.secret_key)
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(InboundMessage)
                            .where(InboundMessage.contact_pseudonym == contact)).one()


def rate_limited_count() -> float:
    return REGISTRY.get_sample_value("gateway_sms_inbound_total", {"outcome": "rate_limited"}) or 0


async def test_a_flooding_number_cannot_starve_others_nor_make_us_reply_a_hundred_times(
    settings, db_engine, redis_sync, caplog
):
    abuser = fresh_phone()
    citizens = [fresh_phone() for _ in range(CITIZENS)]
    dropped_before = rate_limited_count()

    async def flood(client: httpx.AsyncClient) -> None:
        sent = iter(range(FLOOD))

        async def connection() -> None:  # each posts again as soon as it has its answer
            for _ in sent:
                await text(client, abuser, "POLL")

        async with anyio.create_task_group() as group:
            for _ in range(CONNECTIONS):
                group.start_soon(connection)

    async def answer_the_poll(client: httpx.AsyncClient, phone: str) -> None:
        for message in ANSWERS:  # one after the other, as a person would
            await text(client, phone, message)

    caplog.set_level(logging.INFO, logger="gateway")
    async with gateway(settings) as client:
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(flood, client)
            for phone in citizens:
                group.start_soon(answer_the_poll, client, phone)
        elapsed = time.monotonic() - started

    limit = settings.sms
    # A token bucket lets `burst` through at once, then `per_minute` a minute.
    allowed = limit.per_number_burst + math.floor(limit.per_number_per_minute * elapsed / 60)
    abuser_replies = replies_to(settings, db_engine, abuser)
    others = {phone: replies_to(settings, db_engine, phone) for phone in citizens}
    others_replies = sum(len(replies) for replies in others.values())
    print(f"\nabuser_sent={FLOOD} abuser_replies={len(abuser_replies)} (limit {allowed}) "
          f"others_replies={others_replies}/{CITIZENS * len(ANSWERS)}")

    for replies in others.values():  # nobody else lost a single reply
        assert len(replies) == len(ANSWERS)
        assert replies[-1].startswith(THANKS)
    assert 1 <= len(abuser_replies) <= allowed
    assert inbound_from(settings, db_engine, abuser) == len(abuser_replies)  # the rest: dropped
    assert rate_limited_count() - dropped_before == FLOOD - len(abuser_replies)
    warnings = [r.getMessage() for r in caplog.records if "messages a minute" in r.getMessage()]
    expected = (f"sms from {mask(abuser)}: more than {limit.per_number_per_minute} messages a "
                "minute, dropping the rest unanswered")  # masked
    # once, and once more after each message a refill let through
    assert 1 <= len(warnings) <= 1 + len(abuser_replies) - limit.per_number_burst
    assert set(warnings) == {expected}


async def test_stop_gets_through_the_limit_and_ends_the_replies(settings, db_engine, redis_sync):
    abuser = fresh_phone()
    async with gateway(settings) as client:
        for _ in range(settings.sms.per_number_burst + 5):
            await text(client, abuser, "HELP")
        answered = len(replies_to(settings, db_engine, abuser))
        await text(client, abuser, "STOP")
        for _ in range(5):
            await text(client, abuser, "STOP")
            await text(client, abuser, "POLL")

    replies = replies_to(settings, db_engine, abuser)
    assert answered == settings.sms.per_number_burst
    assert len(replies) == answered + 1  # one STOP confirmation, then silence
    assert replies[-1].startswith("You will get no more messages")


async def test_a_limited_number_is_answered_again_once_its_minute_has_passed(
    settings, db_engine, redis_sync
):
    phone = fresh_phone()
    bucket = KEY.format(contact=pseudonym(phone, settings.secret_key))
    async with gateway(settings) as client:
        for _ in range(settings.sms.per_number_burst + 1):
            await text(client, phone, "HELP")
        limited = len(replies_to(settings, db_engine, phone))
        seconds, _ = redis_sync.time()  # a minute passes, for this bucket
        redis_sync.hset(bucket, "at", str((seconds - 60) * 1000))
        await text(client, phone, "HELP")

    assert limited == settings.sms.per_number_burst
    assert len(replies_to(settings, db_engine, phone)) == limited + 1
