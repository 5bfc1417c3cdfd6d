"""Twilio's Messages resource, as `client.messages.create/list/fetch` call it.

`POST /2010-04-01/Accounts/{sid}/Messages.json` answers 201 with the message resource (status
"queued", or "accepted" through a Messaging Service); errors come in Twilio's JSON shape
(`code`, `message`, `more_info`, `status`), e.g. 400 with 21610 for an opted-out recipient.
`GET .../Messages.json?To=&DateSent>=` lists (for reconciling a lost answer).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.emulator.faults import CALL_KINDS, RECIPIENT_KINDS
from gateway.emulator.reports import fire_reports
from gateway.emulator.state import Emulator
from gateway.emulator.store import SentMessage, now_iso
from gateway.sms.encoding import analyse

NAME = "twilio"
API_VERSION = "2010-04-01"
MAX_BODY = 1600
PAGE_SIZE = 50
_NUMBER = re.compile(r"\+\d{9,15}")

# code -> (HTTP status, message), as Twilio words them.
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    21211: (400, "The 'To' number is not a valid phone number."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
}
FAULT_ERRORS = {"429": 20429, "500": 20500, "optout": 21610, "blacklist": 21610, "invalid": 21211}


def error(code: int) -> JSONResponse:
    status, message = ERRORS[code]
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


async def create(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not _authorised(request, emulator):
        return error(20003)
    form = await request.form()
    to, body = str(form.get("To", "")).strip(), str(form.get("Body", ""))
    sender = str(form.get("From", "")).strip()
    service = str(form.get("MessagingServiceSid", "")).strip()
    problem = _problem(to, body, sender or service)
    if problem:
        return error(problem)
    emulator.calls[NAME] += 1
    fault = emulator.faults.take(NAME, CALL_KINDS, [to])
    if fault is not None and fault.kind != "slow":
        return error(FAULT_ERRORS[fault.kind])
    if fault is not None:
        await asyncio.sleep(fault.seconds)  # answer normally, too late for a short timeout
    fault = emulator.faults.take(NAME, RECIPIENT_KINDS, [to])
    if fault is not None and fault.kind in FAULT_ERRORS:
        return error(FAULT_ERRORS[fault.kind])
    message = SentMessage(
        provider=NAME,
        id="SM" + secrets.token_hex(16),
        to=to,
        sender=sender or service,
        text=body,
        time=now_iso(),
        segments=max(1, analyse(body).segments),
        status="accepted" if service and not sender else "queued",
        status_callback=str(form.get("StatusCallback", "")),
    )
    emulator.store.add(message)
    if emulator.config.deliver_reports:
        emulator.later(fire_reports(emulator, message, fault.kind if fault else "delivered"))
    return JSONResponse(resource(emulator, message), status_code=201)


async def fetch(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not _authorised(request, emulator):
        return error(20003)
    message = emulator.store.get(request.path_params["message_sid"])
    if message is None or message.provider != NAME:
        return error(20404)
    return JSONResponse(resource(emulator, message))


async def listing(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if not _authorised(request, emulator):
        return error(20003)
    query = request.query_params
    found = [
        m
        for m in reversed(emulator.store.list(provider=NAME))  # newest first, like Twilio
        if _wanted(m, query.get("To"), query.get("From"), query)
    ]
    size = min(int(query.get("PageSize") or PAGE_SIZE), 1000)
    page = int(query.get("Page") or 0)
    chunk = found[page * size : (page + 1) * size]
    uri = f"/{API_VERSION}/Accounts/{emulator.config.twilio_account_sid}/Messages.json"
    more = (page + 1) * size < len(found)
    return JSONResponse(
        {
            "messages": [resource(emulator, m) for m in chunk],
            "end": page * size + max(len(chunk) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": f"{uri}?{_next(query, size, page)}" if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": f"{uri}?PageSize={size}&Page={page - 1}" if page else None,
            "start": page * size,
            "uri": f"{uri}?PageSize={size}&Page={page}",
        }
    )


def resource(emulator: Emulator, message: SentMessage) -> dict[str, Any]:
    sid = emulator.config.twilio_account_sid
    created = format_datetime(message.sent_at)
    failed = message.status in ("undelivered", "failed")
    via_service = message.sender.startswith("MG")
    return {
        "account_sid": sid,
        "api_version": API_VERSION,
        "body": message.text,
        "date_created": created,
        "date_sent": None if message.status in ("queued", "accepted") else created,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": 30003 if failed else None,
        "error_message": "Unreachable destination handset" if failed else None,
        "from": None if via_service else message.sender,
        "messaging_service_sid": message.sender if via_service else None,
        "num_media": "0",
        "num_segments": str(message.segments),
        "price": None,
        "price_unit": "USD",
        "sid": message.id,
        "status": message.status,
        "subresource_uris": {
            "media": f"/{API_VERSION}/Accounts/{sid}/Messages/{message.id}/Media.json"
        },
        "to": message.to,
        "uri": f"/{API_VERSION}/Accounts/{sid}/Messages/{message.id}.json",
    }


def _authorised(request: Request, emulator: Emulator) -> bool:
    config = emulator.config
    expected = f"{config.twilio_account_sid}:{config.twilio_auth_token}".encode()
    given = request.headers.get("Authorization", "")
    return (
        request.path_params.get("account_sid") == config.twilio_account_sid
        and given == "Basic " + base64.b64encode(expected).decode()
    )


def _problem(to: str, body: str, sender: str) -> int | None:
    if not to:
        return 21604
    if not sender:
        return 21603
    if not body:
        return 21602
    if len(body) > MAX_BODY:
        return 21617
    if not _NUMBER.fullmatch(to):
        return 21211
    return None


def _wanted(message: SentMessage, to: str | None, sender: str | None, query: Any) -> bool:
    if (to and message.to != to) or (sender and message.sender != sender):
        return False
    sent = message.sent_at
    bounds = (("DateSent>", sent.__ge__), ("DateSent<", sent.__le__))
    for key, holds in bounds:
        if query.get(key) and not holds(_moment(query[key], end=key.endswith("<"))):
            return False
    if query.get("DateSent"):
        return sent.date() == _moment(query["DateSent"], end=False).date()
    return True


def _moment(text: str, *, end: bool) -> datetime:
    """`2024-05-01` (the whole day) or an ISO datetime; naive means UTC."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _next(query: Any, size: int, page: int) -> str:
    params = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}
    params.update({"PageSize": str(size), "Page": str(page + 1), "PageToken": f"PA{page + 1}"})
    return urlencode(params)
