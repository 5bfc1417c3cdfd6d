"""Africa's Talking's `POST /version1/messaging`, as the SDK's `SMSService.send` calls it.

Answers like AT: 201 with `SMSMessageData` (a `Message` summary and one entry per recipient,
`statusCode` 101 for accepted, 403/406/409... for refused ones); 401 text for a wrong apiKey or
username; 400 text for a missing field.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gateway.emulator.faults import CALL_KINDS, RECIPIENT_KINDS, Fault
from gateway.emulator.reports import fire_reports
from gateway.emulator.state import AT_DEFAULT_SENDER, Emulator
from gateway.emulator.store import SentMessage, now_iso
from gateway.sms.encoding import analyse

NAME = "africastalking"
PRICE_PER_SEGMENT = 0.8
CURRENCY = "KES"
_NUMBER = re.compile(r"\+\d{9,15}")

# Recipient-level faults -> (statusCode, status) as AT reports them.
REFUSALS = {
    "invalid": (403, "InvalidPhoneNumber"),
    "blacklist": (406, "UserInBlacklist"),
    "optout": (409, "DoNotDisturbRejection"),
}


async def send(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    form = await request.form()
    config = emulator.config
    if request.headers.get("apiKey") != config.at_api_key or form.get("username") != (
        config.at_username
    ):
        return PlainTextResponse("The supplied authentication is invalid", status_code=401)
    for field in ("username", "to", "message"):
        if not form.get(field):
            return PlainTextResponse(f"Request is missing required form field '{field}'", 400)
    emulator.calls[NAME] += 1
    numbers = [n.strip() for n in str(form["to"]).split(",") if n.strip()]
    fault = emulator.faults.take(NAME, CALL_KINDS, numbers)
    if fault is not None:
        answer = await _call_fault(fault)
        if answer is not None:
            return answer
    text, sender = str(form["message"]), str(form.get("from") or AT_DEFAULT_SENDER)
    call = _Call(text, sender, max(1, analyse(text).segments), now_iso())
    recipients, accepted = [], []
    for number in numbers:
        answer, message, outcome = _recipient(emulator, number, call)
        recipients.append(answer)
        if message is not None:
            accepted.append((message, outcome))
    emulator.store.add_many([message for message, _ in accepted])
    if emulator.config.deliver_reports:
        for message, outcome in accepted:
            emulator.later(fire_reports(emulator, message, outcome))
    return JSONResponse(_answer(recipients), status_code=201)


@dataclass(frozen=True)
class _Call:
    """What every recipient of one call shares: the text, its segments, the sender, the time."""

    text: str
    sender: str
    segments: int
    time: str


async def _call_fault(fault: Fault) -> Response | None:
    if fault.kind == "429":
        return PlainTextResponse("Too Many Requests", status_code=429)
    if fault.kind == "500":
        return PlainTextResponse("Internal Server Error", status_code=500)
    await asyncio.sleep(fault.seconds)  # "slow": answer normally, too late for a short timeout
    return None


def _recipient(
    emulator: Emulator, number: str, call: _Call
) -> tuple[dict[str, Any], SentMessage | None, str]:
    """AT's answer for one recipient, the message accepted for it (None: refused), and how
    its delivery reports will end ("delivered", or "undelivered" on request)."""
    fault = emulator.faults.take(NAME, RECIPIENT_KINDS, [number])
    kind = fault.kind if fault else None
    if kind in REFUSALS or not _NUMBER.fullmatch(number):
        code, status = REFUSALS[kind or "invalid"]
        return {"statusCode": code, "number": number, "status": status, "cost": "0",
                "messageId": "None"}, None, ""
    message = SentMessage(
        provider=NAME,
        id="ATXid_" + secrets.token_hex(16),
        to=number,
        sender=call.sender,
        text=call.text,
        time=call.time,
        segments=call.segments,
    )
    return {
        "statusCode": 101,
        "number": number,
        "status": "Success",
        "cost": f"{CURRENCY} {call.segments * PRICE_PER_SEGMENT:.4f}",
        "messageId": message.id,
    }, message, kind or "delivered"


def _answer(recipients: list[dict[str, Any]]) -> dict[str, Any]:
    sent = [r for r in recipients if r["statusCode"] == 101]
    total = sum(float(r["cost"].split()[-1]) for r in sent)
    return {
        "SMSMessageData": {
            "Message": f"Sent to {len(sent)}/{len(recipients)} Total Cost: {CURRENCY} {total:.4f}",
            "Recipients": recipients,
        }
    }
