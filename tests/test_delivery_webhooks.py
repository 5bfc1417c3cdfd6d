"""Delivery reports and status callbacks: each moves a message forward, never back.

Reports arrive twice and out of order; `delivered` is never overwritten by a late `sent`.
"""

from __future__ import annotations

import dataclasses

import pytest
from sms_support import AT_DELIVERY, TWILIO_STATUS, post_twilio
from sqlmodel import Session, select
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.models import Contact, OutboundMessage
from gateway.outbox import NewMessage, add_message
from gateway.phone import pseudonym

PHONE = "+254711000002"
AT_ID = "ATXid_5c0a1e"
SID = "SM" + "5" * 32


def message(client: TestClient, provider: str, provider_id: str | None, status: str) -> int:
    """An outbox row as the worker leaves it after the provider accepted it."""
    runtime = client.app.state.runtime
    contact = pseudonym(PHONE, runtime.settings.secret_key)
    with Session(runtime.engine) as session:
        row = add_message(session, runtime.settings,
                          NewMessage(contact, PHONE, provider, "Thank you!", kind="reply"))
        row.provider_id, row.status = provider_id, status
        session.add(row)
        session.commit()
        return row.id


def row(client: TestClient, message_id: int) -> OutboundMessage:
    with Session(client.app.state.runtime.engine) as session:
        return session.get(OutboundMessage, message_id)


def at_report(status: str, message_id: str = AT_ID, **extra: str) -> dict:
    return {"id": message_id, "status": status, "phoneNumber": PHONE, "networkCode": "63902",
            "retryCount": "0", **extra}


def twilio_report(status: str, sid: str = SID, **extra: str) -> dict:
    return {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "ACemulator0000000000000000000000", "To": PHONE,
            "From": "+15005550006", "ApiVersion": "2010-04-01", **extra}


def report(client: TestClient, provider: str, status: str, **extra: str):
    if provider == "twilio":
        return post_twilio(client, twilio_report(status, **extra), TWILIO_STATUS)
    return client.post(AT_DELIVERY, data=at_report(status, **extra))


SEQUENCES = [  # (provider, reports in arrival order, final status)
    ("africastalking", ["Sent", "Success"], "delivered"),
    ("africastalking", ["Success", "Sent"], "delivered"),  # out of order
    ("africastalking", ["Submitted", "Buffered", "Success", "Success", "Sent"], "delivered"),
    ("africastalking", ["Sent", "Failed"], "failed"),
    ("twilio", ["queued", "sent", "delivered"], "delivered"),
    ("twilio", ["delivered", "sent"], "delivered"),  # out of order
    ("twilio", ["sent", "delivered", "delivered", "sending"], "delivered"),
    ("twilio", ["sent", "undelivered"], "failed"),
]


@pytest.mark.parametrize(("provider", "statuses", "final"), SEQUENCES,
                         ids=[f"{p}: {' > '.join(s)}" for p, s, _ in SEQUENCES])
def test_reports_move_a_message_forward_only(db_engine, client, provider, statuses, final):
    provider_id = AT_ID if provider == "africastalking" else SID
    message_id = message(client, provider, provider_id, "sent")
    for status in statuses:
        response = report(client, provider, status)
        assert response.status_code == 200, response.text
    saved = row(client, message_id)
    assert saved.status == final
    assert (saved.delivered_at is not None) == (final == "delivered")


def test_an_africastalking_failure_keeps_its_reason(client):
    message_id = message(client, "africastalking", AT_ID, "sent")
    report(client, "africastalking", "Rejected", failureReason="InsufficientCredit")
    saved = row(client, message_id)
    assert (saved.status, saved.failure_reason) == ("failed", "InsufficientCredit")


def test_a_twilio_failure_keeps_its_error_code_and_meaning(client):
    message_id = message(client, "twilio", SID, "sent")
    report(client, "twilio", "undelivered", ErrorCode="30003")
    saved = row(client, message_id)
    assert (saved.status, saved.failure_reason) == (
        "failed", "30003: unreachable destination handset")


def test_twilio_21610_in_a_status_callback_stops_the_contact(client):
    message(client, "twilio", SID, "sent")
    report(client, "twilio", "failed", ErrorCode="21610")
    with Session(client.app.state.runtime.engine) as session:
        contact = session.exec(select(Contact)).one()
    assert contact.opted_out


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_report_before_the_provider_id_was_recorded_finds_the_message_by_recipient(
    client, provider
):
    """The worker may not have recorded the provider's id yet (or crashed): the report does."""
    message_id = message(client, provider, None, "sending")
    response = report(client, provider, "Success" if provider == "africastalking" else "delivered")
    assert response.status_code == 200
    saved = row(client, message_id)
    assert (saved.status, saved.provider_id) == (
        "delivered", AT_ID if provider == "africastalking" else SID)


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_report_for_an_unknown_message_is_acknowledged_and_ignored(client, provider):
    message_id = message(client, provider, "other-id", "sent")
    assert report(client, provider, "Success" if provider == "africastalking" else "delivered"
                  ).status_code == 200
    assert row(client, message_id).status == "sent"


BAD_REPORTS = [
    ("africastalking", {"status": "Exploded"}, "unknown status 'Exploded'"),
    ("africastalking", {"status": ""}, "missing status"),
    ("africastalking", {"id": ""}, "empty id"),
    ("twilio", {"MessageStatus": "exploded"}, "unknown MessageStatus 'exploded'"),
    ("twilio", {"ErrorCode": "abc"}, "ErrorCode is not a number"),
    ("twilio", {"MessageSid": ""}, "missing MessageSid"),
]


@pytest.mark.parametrize(("provider", "fields", "reason"), BAD_REPORTS,
                         ids=[f"{p}: {r}" for p, _, r in BAD_REPORTS])
def test_a_malformed_report_is_refused_and_changes_nothing(client, provider, fields, reason):
    message_id = message(client, provider, AT_ID if provider == "africastalking" else SID, "sent")
    if provider == "twilio":
        response = post_twilio(client, {**twilio_report("delivered"), **fields}, TWILIO_STATUS)
    else:
        response = client.post(AT_DELIVERY, data={**at_report("Success"), **fields})
    assert (response.status_code, response.text) == (400, reason)
    assert row(client, message_id).status == "sent"


def test_a_status_callback_without_a_valid_signature_is_refused(client):
    message_id = message(client, "twilio", SID, "sent")
    unsigned = client.post(TWILIO_STATUS, data=twilio_report("delivered"))
    forged = post_twilio(client, twilio_report("delivered"), TWILIO_STATUS, signature="Zm9yZ2Vk")
    for response in (unsigned, forged):
        assert (response.status_code, response.text) == (403, "bad or missing X-Twilio-Signature")
    assert row(client, message_id).status == "sent"


def test_an_africastalking_report_without_the_token_is_refused(settings, redis_sync):
    sms = dataclasses.replace(settings.sms, webhook_token="s3cret-t0ken")
    with TestClient(create_app(dataclasses.replace(settings, sms=sms))) as client:
        message_id = message(client, "africastalking", AT_ID, "sent")
        refused = client.post(AT_DELIVERY, data=at_report("Success"))
        assert (refused.status_code, refused.text) == (403, "bad or missing token")
        assert row(client, message_id).status == "sent"
        taken = client.post(AT_DELIVERY + "?token=s3cret-t0ken", data=at_report("Success"))
        assert taken.status_code == 200 and row(client, message_id).status == "delivered"


def test_a_report_with_the_database_down_answers_503(settings, redis_sync):
    down = dataclasses.replace(
        settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    with TestClient(create_app(down)) as client:
        response = client.post(AT_DELIVERY, data=at_report("Success"))
    assert (response.status_code, response.text) == (503, "database unavailable")
