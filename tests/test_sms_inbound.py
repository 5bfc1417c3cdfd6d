"""The inbound SMS webhooks of both providers, as tables of requests and what comes back.

A refused request changes nothing (no Redis key, no row); an accepted one is processed once,
however often the provider sends it.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from sms_support import (
    AT_INBOUND,
    OUR_TWILIO_NUMBER,
    SHORTCODE,
    TWILIO_INBOUND,
    Texter,
    at_form,
    post_inbound,
    post_twilio,
    queued,
    twilio_form,
)
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select
from starlette.testclient import TestClient
from ussd_support import fresh_phone

from gateway.app import create_app
from gateway.channels import twilio
from gateway.crypto import decrypt_number
from gateway.models import Contact, InboundMessage
from gateway.phone import pseudonym
from gateway.sms.sessions import run_key

PHONE = "+254711000001"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def inbound_rows(client: TestClient) -> list[InboundMessage]:
    with Session(client.app.state.runtime.engine) as session:
        return list(session.exec(select(InboundMessage).order_by(InboundMessage.id)))


def contacts(client: TestClient) -> list[Contact]:
    with Session(client.app.state.runtime.engine) as session:
        return list(session.exec(select(Contact)))


def assert_nothing_changed(client: TestClient, redis_sync) -> None:
    assert redis_sync.dbsize() == 0
    assert inbound_rows(client) == [] and contacts(client) == []
    assert queued(client, PHONE) == []


# --- good requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_good_sms_is_recorded_and_answered_through_the_outbox(
    db_engine, client, redis_sync, provider
):
    response = post_inbound(client, provider, PHONE, "POLL")
    expected = ("ok", "text/plain") if provider == "africastalking" else (TWIML, "text/xml")
    assert (response.status_code, response.text) == (200, expected[0])
    assert response.headers["content-type"].startswith(expected[1])

    (row,) = inbound_rows(client)
    secret = client.app.state.runtime.settings.secret_key
    assert (row.provider, row.text, row.truncated, row.original_length) == (
        provider, "POLL", False, 4)
    assert row.contact_pseudonym == pseudonym(PHONE, secret)
    assert row.to == (SHORTCODE if provider == "africastalking" else OUR_TWILIO_NUMBER)
    (contact,) = contacts(client)
    assert decrypt_number(contact.number_encrypted, secret) == PHONE
    assert (contact.channel, contact.opted_out) == (provider, False)
    (reply,) = queued(client, PHONE)
    assert (reply.kind, reply.priority, reply.status, reply.provider, reply.sender) == (
        "reply", "high", "queued", provider, row.to)
    assert reply.text.startswith("Which project should your ward fund first?")
    assert PHONE not in reply.number_encrypted
    assert redis_sync.exists(f"rq:job:sms-{reply.id}")  # its send job carries the row's id


# --- malformed requests -------------------------------------------------------------------------


def _at_without(field: str) -> dict:
    form = at_form(PHONE, "POLL")
    del form[field]
    return form


BAD_AT = [
    ("missing id", _at_without("id"), "missing id"),
    ("empty id", at_form(PHONE, "POLL", message_id=" "), "empty id"),
    ("spaces in id", at_form(PHONE, "POLL", message_id="AT X"), "id has invalid characters"),
    ("long id", at_form(PHONE, "POLL", message_id="A" * 129), "id longer than 128 characters"),
    ("missing from", _at_without("from"), "missing from"),
    ("garbage from", at_form("not-a-number", "POLL"), "from is not a valid phone number"),
    ("missing to", _at_without("to"), "missing to"),
]


@pytest.mark.parametrize(("form", "reason"), [c[1:] for c in BAD_AT], ids=[c[0] for c in BAD_AT])
def test_a_malformed_africastalking_sms_is_refused_and_changes_nothing(
    client, redis_sync, form, reason
):
    response = client.post(AT_INBOUND, data=form)
    assert (response.status_code, response.text) == (400, reason)
    assert_nothing_changed(client, redis_sync)


def _twilio_without(field: str) -> dict:
    form = twilio_form(PHONE, "POLL")
    del form[field]
    return form


BAD_TWILIO = [
    ("missing MessageSid", _twilio_without("MessageSid"), "missing MessageSid"),
    ("bad MessageSid", twilio_form(PHONE, "POLL", sid="SM-1 2"),
     "MessageSid has invalid characters"),
    ("missing From", _twilio_without("From"), "missing From"),
    ("garbage From", twilio_form("abc", "POLL"), "From is not a valid phone number"),
    ("missing To", _twilio_without("To"), "missing To"),
    ("NumSegments not a number", twilio_form(PHONE, "POLL", NumSegments="two"),
     "NumSegments is not a whole number"),
]


@pytest.mark.parametrize(("form", "reason"), [c[1:] for c in BAD_TWILIO],
                         ids=[c[0] for c in BAD_TWILIO])
def test_a_malformed_twilio_sms_is_refused_and_changes_nothing(client, redis_sync, form, reason):
    response = post_twilio(client, form)
    assert (response.status_code, response.text) == (400, reason)
    assert_nothing_changed(client, redis_sync)


@pytest.mark.parametrize("path", [AT_INBOUND, TWILIO_INBOUND])
@pytest.mark.parametrize(
    ("content", "content_type", "status", "reason"),
    [
        (json.dumps(at_form(PHONE, "POLL")), "application/json", 400,
         "content type must be application/x-www-form-urlencoded"),
        (b"from=%2B254711000001&text=%ff%fe", "application/x-www-form-urlencoded", 400,
         "body is not a UTF-8 form"),
        (b"id=a&id=b&from=%2B254711000001", "application/x-www-form-urlencoded", 400,
         "field id given twice"),
        (b"text=" + b"y" * 40_000, "application/x-www-form-urlencoded", 413, "Content Too Large"),
    ],
    ids=["json body", "not utf-8", "repeated field", "40 KB body"],
)
def test_a_body_that_is_not_a_small_form_is_refused(
    client, redis_sync, path, content, content_type, status, reason
):
    response = client.post(path, content=content, headers={"content-type": content_type})
    assert (response.status_code, response.text) == (status, reason)
    assert_nothing_changed(client, redis_sync)


# --- who may call -------------------------------------------------------------------------------


def _tampered(client) -> object:
    form = twilio_form(PHONE, "POLL")
    token = client.app.state.runtime.settings.twilio_auth_token
    signature = twilio.sign("http://testserver/sms/twilio", form, token)
    return post_twilio(client, {**form, "Body": "STOP"}, signature=signature)


TWILIO_SIGNATURES = [
    ("missing", lambda c: c.post(TWILIO_INBOUND, data=twilio_form(PHONE, "POLL"))),
    ("garbage", lambda c: post_twilio(c, twilio_form(PHONE, "POLL"), signature="bm90IGl0")),
    ("for another url", lambda c: post_twilio(
        c, twilio_form(PHONE, "POLL"), signed_url="https://evil.example.org/sms/twilio")),
    ("tampered body", _tampered),
]


@pytest.mark.parametrize("send", [c[1] for c in TWILIO_SIGNATURES],
                         ids=[c[0] for c in TWILIO_SIGNATURES])
def test_a_bad_or_missing_twilio_signature_is_refused(client, redis_sync, send):
    response = send(client)
    assert (response.status_code, response.text) == (403, "bad or missing X-Twilio-Signature")
    assert_nothing_changed(client, redis_sync)


def test_behind_a_proxy_the_signature_is_checked_against_the_public_url(settings, redis_sync):
    public = dataclasses.replace(settings, public_url="https://sms.example.org/")
    with TestClient(create_app(public)) as client:
        form = twilio_form(PHONE, "POLL")
        good = post_twilio(client, form, signed_url="https://sms.example.org/sms/twilio")
        local = post_twilio(client, twilio_form(PHONE, "POLL"))
    assert (good.status_code, local.status_code) == (200, 403)


def test_an_sms_to_a_number_that_is_not_ours_is_refused(client, redis_sync):
    response = post_twilio(client, twilio_form(PHONE, "POLL", To="+15005550001"))
    assert (response.status_code, response.text) == (403, "To is not one of our Twilio numbers")
    assert_nothing_changed(client, redis_sync)


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        (AT_INBOUND, {}, 403),
        (AT_INBOUND + "?token=wrong", {}, 403),
        (AT_INBOUND + "?token=s3cret-t0ken", {}, 200),
        (AT_INBOUND, {"token": "s3cret-t0ken"}, 200),
        (AT_INBOUND, {"token": "s3cret-t0ke"}, 403),
    ],
    ids=["no token", "wrong token", "token in the url", "token in the form", "prefix of it"],
)
def test_with_a_webhook_token_set_africastalking_posts_must_carry_it(
    settings, redis_sync, path, data, status
):
    sms = dataclasses.replace(settings.sms, webhook_token="s3cret-t0ken")
    with TestClient(create_app(dataclasses.replace(settings, sms=sms))) as client:
        response = client.post(path, data={**at_form(PHONE, "POLL"), **data})
        assert response.status_code == status
        if status == 403:
            assert response.text == "bad or missing token"
            assert_nothing_changed(client, redis_sync)


# --- processed once -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
@pytest.mark.parametrize("forget_redis", [False, True], ids=["redis dedupe", "database dedupe"])
def test_a_duplicate_provider_id_is_acknowledged_and_processed_once(
    db_engine, client, redis_sync, provider, forget_redis
):
    texter = Texter(client, provider)
    message_id = "ATXid_dup1" if provider == "africastalking" else "SM" + "d" * 32
    assert len(texter.send("POLL", message_id)) == 1
    if forget_redis:  # e.g. Redis restarted without its data: the unique constraint still holds
        redis_sync.delete(f"gw:sms:seen:{provider}:{message_id}")
    for _ in range(2):
        assert texter.send("POLL", message_id) == []
    assert len(inbound_rows(client)) == 1
    assert redis_sync.ttl(f"gw:sms:seen:{provider}:{message_id}") > 86400


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_text_over_1600_characters_is_truncated_and_that_is_recorded(client, provider):
    texter = Texter(client, provider)
    texter.send("Hello " + "a" * 1994)
    (row,) = inbound_rows(client)
    assert (len(row.text), row.truncated, row.original_length) == (1600, True, 2000)


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_full_length_emoji_sms_fits_under_the_body_limit(client, provider):
    """1,600 emoji URL-encode to ~19 KB: a real message must not be refused on every retry."""
    texter = Texter(client, provider)
    texter.send("\N{GRINNING FACE}" * 1600)
    (row,) = inbound_rows(client)
    assert (row.text, row.truncated) == ("\N{GRINNING FACE}" * 1600, False)


# --- failures: 503 and nothing half-written -----------------------------------------------------


def test_redis_down_answers_503_quickly(settings):
    down = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(down)) as client:
        started = time.monotonic()
        response = client.post(AT_INBOUND, data=at_form(PHONE, "POLL"))
        assert time.monotonic() - started < 1.0
        assert (response.status_code, response.text) == (503, "redis unavailable")
        assert inbound_rows(client) == []


def test_database_down_answers_503_and_the_retry_is_processed_later(settings, redis_sync):
    down = dataclasses.replace(
        settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    form = at_form(PHONE, "POLL")
    with TestClient(create_app(down)) as client:
        response = client.post(AT_INBOUND, data=form)
    assert (response.status_code, response.text) == (503, "database unavailable")
    assert redis_sync.keys("gw:sms:seen:*") == []  # the provider's retry must get through
    with TestClient(create_app(settings)) as client:
        assert client.post(AT_INBOUND, data=form).status_code == 200
        assert len(inbound_rows(client)) == 1 and len(queued(client, PHONE)) == 1


def test_a_failure_after_the_session_was_saved_takes_it_back(client, redis_sync, monkeypatch):
    texter = Texter(client)
    texter.send("POLL")
    before = redis_sync.get(run_key(texter.contact))

    def lost(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("connection lost"))

    monkeypatch.setattr("gateway.sms.conversation._queue", lost)
    form = at_form(texter.phone, "1")
    response = client.post(AT_INBOUND, data=form)
    assert (response.status_code, response.text) == (503, "database unavailable")
    assert redis_sync.get(run_key(texter.contact)) == before  # still on the first question
    assert [row.text for row in inbound_rows(client)] == ["POLL"]
    assert not redis_sync.exists(f"gw:sms:seen:africastalking:{form['id']}")

    monkeypatch.undo()
    assert client.post(AT_INBOUND, data=form).status_code == 200  # the provider's retry
    assert queued(client, texter.phone)[-1].text.startswith("How old are you?")


def test_an_unexpected_error_answers_500_without_a_traceback_and_changes_nothing(
    client, redis_sync, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("boom at /work/main/gateway/sms/conversation.py")

    monkeypatch.setattr("gateway.sms.conversation.decide", broken)
    phone = fresh_phone()
    response = client.post(AT_INBOUND, data=at_form(phone, "POLL", message_id="ATXid_boom"))
    assert (response.status_code, response.text) == (500, "internal error")
    assert redis_sync.keys("gw:sms:seen:*") == [] and inbound_rows(client) == []

    monkeypatch.undo()
    assert client.post(AT_INBOUND, data=at_form(phone, "POLL", message_id="ATXid_boom")
                       ).status_code == 200
    assert len(queued(client, phone)) == 1
