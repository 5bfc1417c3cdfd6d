"""Helpers for the SMS tests: provider-shaped forms, signed Twilio posts, a citizen who texts.

The replies a citizen "receives" are the outbox rows queued for their pseudonym: replies leave
only through the outbox, so that is what a handset would get.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select
from ussd_support import fresh_phone

from gateway.channels import twilio
from gateway.models import OutboundMessage
from gateway.phone import pseudonym

AT_INBOUND = "/sms/africastalking"
AT_DELIVERY = "/sms/africastalking/delivery"
TWILIO_INBOUND = "/sms/twilio"
TWILIO_STATUS = "/sms/twilio/status"
SHORTCODE = "21345"
OUR_TWILIO_NUMBER = "+15005550006"  # settings.twilio.numbers in development (the emulator's)


def next_id(prefix: str) -> str:
    """A provider message id: AT's "ATXid_..." or Twilio's "SM" + 32 hex digits."""
    return prefix + uuid.uuid4().hex


def at_form(phone: str, text: str, message_id: str | None = None, **extra: str) -> dict:
    return {
        "from": phone,
        "to": SHORTCODE,
        "text": text,
        "date": "2025-01-01 10:00:00",
        "id": message_id or next_id("ATXid_"),
        "linkId": "",
        "networkCode": "63902",
        **extra,
    }


def twilio_form(phone: str, text: str, sid: str | None = None, **extra: str) -> dict:
    return {
        "MessageSid": sid or next_id("SM"),
        "AccountSid": "ACemulator0000000000000000000000",
        "From": phone,
        "To": OUR_TWILIO_NUMBER,
        "Body": text,
        "NumSegments": "1",
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post_twilio(
    client: Any,
    form: dict,
    path: str = TWILIO_INBOUND,
    *,
    signature: str | None = None,
    signed_url: str | None = None,
) -> Any:
    """Post `form` signed as Twilio would (for `signed_url`, default the URL posted to)."""
    url = f"http://testserver{path}"
    token = client.app.state.runtime.settings.twilio_auth_token
    if signature is None:
        signature = twilio.sign(signed_url or url, form, token)
    return client.post(path, data=form, headers={twilio.SIGNATURE_HEADER: signature})


def post_inbound(client: Any, provider: str, phone: str, text: str, message_id: str | None = None):
    if provider == "twilio":
        return post_twilio(client, twilio_form(phone, text, message_id))
    return client.post(AT_INBOUND, data=at_form(phone, text, message_id))


def queued(client: Any, phone: str, after: int = 0) -> list[OutboundMessage]:
    contact = pseudonym(phone, client.app.state.runtime.settings.secret_key)
    with Session(client.app.state.runtime.engine) as session:
        return list(session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.contact_pseudonym == contact, OutboundMessage.id > after)
            .order_by(OutboundMessage.id)
        ))


class Texter:
    """A citizen texting through one provider's webhook; `text` returns the replies queued."""

    def __init__(self, client: Any, provider: str = "africastalking", phone: str | None = None):
        self.client = client
        self.provider = provider
        self.phone = phone or fresh_phone()
        self.seen = 0
        self.contact = pseudonym(self.phone, client.app.state.runtime.settings.secret_key)

    def send(self, text: str, message_id: str | None = None) -> list[OutboundMessage]:
        response = post_inbound(self.client, self.provider, self.phone, text, message_id)
        assert response.status_code == 200, response.text
        rows = queued(self.client, self.phone, self.seen)
        if rows:
            self.seen = rows[-1].id
        return rows

    def text(self, text: str) -> list[str]:
        return [row.text for row in self.send(text)]

    def reply(self, text: str) -> str:
        """The one reply to `text` ("" if none came)."""
        replies = self.text(text)
        assert len(replies) <= 1, replies
        return replies[0] if replies else ""
