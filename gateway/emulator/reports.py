"""Delivery reports fired back at the gateway after a send, as each provider would post them.

Africa's Talking: a form to /sms/africastalking/delivery (with ?token= when the gateway wants
one). Twilio: a signed form to the send's StatusCallback, else to /sms/twilio/status.
Each message gets "sent", then "delivered" (or a failure for the "undelivered" fault).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import httpx

from gateway.channels import twilio
from gateway.emulator.state import Emulator
from gateway.emulator.store import SentMessage

log = logging.getLogger("gateway.emulator")

AT_DELIVERY_PATH = "/sms/africastalking/delivery"
NETWORK_CODE = "63902"  # Safaricom Kenya
ATTEMPTS = 3  # a report the gateway did not take (down, 5xx) is posted again, like providers do

# (our outcome) -> the provider's status words, in the order the reports are posted.
AT_STEPS = {"delivered": ("Sent", "Success"), "undelivered": ("Sent", "Failed")}
TWILIO_STEPS = {"delivered": ("sent", "delivered"), "undelivered": ("sent", "undelivered")}
AT_FAILURE_REASON = "DeliveryFailure"
TWILIO_FAILURE_CODE = "30003"  # unreachable destination handset


async def fire_reports(emulator: Emulator, message: SentMessage, outcome: str) -> None:
    """Post the reports for one accepted message, `report_delay_seconds` apart."""
    steps = (AT_STEPS if message.provider == "africastalking" else TWILIO_STEPS)[outcome]
    for word in steps:
        await asyncio.sleep(emulator.config.report_delay_seconds)
        message.status = word
        if message.provider == "africastalking":
            await _post_at(emulator, message, word)
        else:
            await _post_twilio(emulator, message, word)


async def _post_at(emulator: Emulator, message: SentMessage, status: str) -> None:
    form = {
        "id": message.id,
        "status": status,
        "phoneNumber": message.to,
        "networkCode": NETWORK_CODE,
        "retryCount": "0",
    }
    if status == "Failed":
        form["failureReason"] = AT_FAILURE_REASON
    url = emulator.config.gateway(AT_DELIVERY_PATH)
    if emulator.config.webhook_token:
        url += "?" + urlencode({"token": emulator.config.webhook_token})
    await _post(emulator, url, form, {})


async def _post_twilio(emulator: Emulator, message: SentMessage, status: str) -> None:
    config = emulator.config
    form = {
        "AccountSid": config.twilio_account_sid,
        "ApiVersion": "2010-04-01",
        "From": message.sender,
        "To": message.to,
        "MessageSid": message.id,
        "SmsSid": message.id,
        "MessageStatus": status,
        "SmsStatus": status,
    }
    if status == "undelivered":
        form["ErrorCode"] = TWILIO_FAILURE_CODE
    if message.status_callback:
        url = signed = message.status_callback
    else:
        url, signed = config.gateway(twilio.STATUS_PATH), config.signed(twilio.STATUS_PATH)
    signature = twilio.sign(signed, form, config.twilio_auth_token)
    await _post(emulator, url, form, {twilio.SIGNATURE_HEADER: signature})


async def _post(
    emulator: Emulator, url: str, form: dict[str, str], headers: dict[str, str]
) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await emulator.http.post(url, data=form, headers=headers)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        else:
            if response.status_code < 500:
                if response.status_code >= 400:
                    log.warning("report to %s refused: %s %s", url, response.status_code,
                                response.text[:200])
                return
            outcome = f"HTTP {response.status_code}"
        log.warning("report to %s failed (%s), attempt %d of %d", url, outcome, attempt, ATTEMPTS)
        await asyncio.sleep(0.5 * attempt)
