"""The emulator plays a citizen: an inbound SMS or a USSD hop, posted to the gateway.

The forms are the providers' own (AT's `from, to, text, date, id, linkId, networkCode`; Twilio's
`MessageSid, From, To, Body, ...` with a valid X-Twilio-Signature), so the gateway cannot tell
the emulator from the real thing.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from gateway.channels import twilio
from gateway.emulator.reports import NETWORK_CODE
from gateway.emulator.state import Emulator
from gateway.sms.encoding import analyse

AT_INBOUND_PATH = "/sms/africastalking"
USSD_PATH = "/ussd/africastalking"


@dataclass(frozen=True)
class GatewayAnswer:
    status: int
    body: str
    id: str = ""  # the provider id the emulator gave the inbound SMS / the USSD session id

    def public(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "id": self.id}


async def send_inbound_sms(
    emulator: Emulator,
    *,
    provider: str,
    sender: str,
    text: str,
    to: str | None = None,
    message_id: str | None = None,
) -> GatewayAnswer:
    """Post one citizen SMS to the gateway; `message_id` repeats a delivery (duplicate tests)."""
    if provider == "twilio":
        return await _twilio_sms(emulator, sender, text, to, message_id)
    return await _at_sms(emulator, sender, text, to, message_id)


async def send_ussd_hop(
    emulator: Emulator, *, session: str | None, code: str, phone: str, text: str
) -> GatewayAnswer:
    """Post one USSD hop (`text` = every input so far, joined by `*`) and return the screen."""
    session = session or f"ATUid_{uuid.uuid4().hex}"
    form = {
        "sessionId": session,
        "serviceCode": code,
        "phoneNumber": phone,
        "networkCode": NETWORK_CODE,
        "text": text,
    }
    response = await emulator.http.post(emulator.config.gateway(USSD_PATH), data=form)
    return GatewayAnswer(response.status_code, response.text, session)


async def _at_sms(
    emulator: Emulator, sender: str, text: str, to: str | None, message_id: str | None
) -> GatewayAnswer:
    config = emulator.config
    message_id = message_id or str(uuid.uuid4())
    form = {
        "from": sender,
        "to": to or config.at_shortcode,
        "text": text,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "id": message_id,
        "linkId": str(uuid.uuid4()),
        "networkCode": NETWORK_CODE,
    }
    url = config.gateway(AT_INBOUND_PATH)
    if config.webhook_token:
        url += "?" + urlencode({"token": config.webhook_token})
    response = await emulator.http.post(url, data=form)
    return GatewayAnswer(response.status_code, response.text, message_id)


async def _twilio_sms(
    emulator: Emulator, sender: str, text: str, to: str | None, message_id: str | None
) -> GatewayAnswer:
    config = emulator.config
    sid = message_id or "SM" + secrets.token_hex(16)
    form = {
        "ToCountry": "",
        "ToState": "",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": text,
        "FromCountry": "",
        "To": to or config.twilio_number,
        "ToZip": "",
        "NumSegments": str(max(1, analyse(text).segments)),
        "MessageSid": sid,
        "AccountSid": config.twilio_account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    signature = twilio.sign(
        config.signed(twilio.INBOUND_PATH), form, config.twilio_auth_token
    )
    response = await emulator.http.post(
        config.gateway(twilio.INBOUND_PATH),
        data=form,
        headers={twilio.SIGNATURE_HEADER: signature},
    )
    return GatewayAnswer(response.status_code, response.text, sid)
