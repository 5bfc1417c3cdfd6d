"""The inbound SMS's lean path (gateway.sms.conversation, gateway.contacts.claim) writes what the
ORM path wrote: reply rows equal to `outbox.add_message`'s, jobs named as the outbox names them,
the contact's number kept once and reused; and its one-call duplicate check stays exactly-once.
"""

from __future__ import annotations

import uuid

import pytest
from sms_support import Texter
from sqlmodel import Session, select
from ussd_support import fresh_phone

from gateway import outbox
from gateway.crypto import decrypt_number
from gateway.models import Contact
from gateway.phone import pseudonym
from gateway.sms import rate_limit
from gateway.sms.conversation import dedupe_key

COMPARED_APART = {"id", "number_encrypted", "created_at", "updated_at"}


def contact_row(client, phone: str) -> Contact:
    runtime = client.app.state.runtime
    with Session(runtime.engine) as session:
        return session.exec(select(Contact).where(
            Contact.pseudonym == pseudonym(phone, runtime.settings.secret_key))).one()


def test_a_reply_row_is_what_outbox_add_message_writes(client):
    texter = Texter(client)
    (row,) = texter.send("POLL")
    runtime = client.app.state.runtime
    key = runtime.settings.secret_key
    with Session(runtime.engine) as session:
        reference = outbox.add_message(session, runtime.settings, outbox.NewMessage(
            contact_pseudonym=texter.contact, number_e164=texter.phone, provider=row.provider,
            text=row.text, kind="reply", priority="high", sender=row.sender))
        expected = reference.model_dump()
        session.rollback()
    got = row.model_dump()
    assert {k: v for k, v in got.items() if k not in COMPARED_APART} == {
        k: v for k, v in expected.items() if k not in COMPARED_APART}
    assert decrypt_number(got["number_encrypted"], key) == texter.phone
    assert got["created_at"] is not None and got["updated_at"] is not None


def test_a_reply_goes_in_the_job_the_outbox_names_for_it(client, redis_sync):
    texter = Texter(client)
    (row,) = texter.send("POLL")
    assert redis_sync.exists(f"rq:job:{outbox.job_key(row)}")


def test_the_number_is_encrypted_once_and_reused_for_every_reply(client):
    texter = Texter(client)
    first = texter.send("POLL")[0]
    second = texter.send("1")[0]
    stored = contact_row(client, texter.phone).number_encrypted
    assert stored is not None
    assert first.number_encrypted == second.number_encrypted == stored


def test_a_contact_known_without_a_number_gets_it_from_its_first_sms(client):
    phone = fresh_phone()
    runtime = client.app.state.runtime
    with Session(runtime.engine) as session:  # e.g. known from USSD only
        session.add(Contact(pseudonym=pseudonym(phone, runtime.settings.secret_key)))
        session.commit()
    (row,) = Texter(client, phone=phone).send("POLL")
    stored = contact_row(client, phone)
    assert stored.number_encrypted == row.number_encrypted
    assert decrypt_number(stored.number_encrypted, runtime.settings.secret_key) == phone
    assert stored.channel == "africastalking"


@pytest.mark.anyio
async def test_the_duplicate_check_resent_after_a_lost_reply_still_lets_the_message_in(
    settings, redis_sync
):
    """A client that resends the call on a new connection (redis-py's retry, gateway.hop_redis)
    must not find its own first attempt and drop the message as a duplicate."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.redis_url)
    key = dedupe_key("africastalking", "ATXid_" + uuid.uuid4().hex)
    contact = "c-" + uuid.uuid4().hex
    token = "pending:" + uuid.uuid4().hex
    try:
        async def check(token: str) -> str:
            return await rate_limit.dedupe_and_admit(
                client, key, token, contact, settings.sms, pending_seconds=60, limited=True)

        assert await check(token) == "allowed"
        assert await check(token) == "allowed"  # the same attempt, resent
        assert await check("pending:" + uuid.uuid4().hex) == "duplicate"  # the provider's retry
        redis_sync.script_flush()  # a Redis restarted without its scripts
        assert await check("pending:" + uuid.uuid4().hex) == "duplicate"
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_a_message_over_the_limit_is_kept_as_seen_for_the_dedupe_window(
    settings, redis_sync
):
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.redis_url)
    contact = "c-" + uuid.uuid4().hex
    outcomes = []
    try:
        for _ in range(settings.sms.per_number_burst + 1):
            key = dedupe_key("africastalking", "ATXid_" + uuid.uuid4().hex)
            outcomes.append(await rate_limit.dedupe_and_admit(
                client, key, "pending:x", contact, settings.sms, pending_seconds=60,
                limited=True))
    finally:
        await client.aclose()
    assert outcomes == ["allowed"] * settings.sms.per_number_burst + ["refused_first"]
    assert redis_sync.get(key) == b"done"
    assert redis_sync.ttl(key) > 60
