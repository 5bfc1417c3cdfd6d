"""The emulator's web app: the providers' APIs, plus /emulator/… to inspect and steer it.

| route | what |
|---|---|
| POST /version1/messaging | Africa's Talking bulk SMS (the SDK's `SMSService.send`) |
| POST, GET /2010-04-01/Accounts/{sid}/Messages.json | Twilio create / list |
| GET /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json | Twilio fetch |
| GET, DELETE /emulator/messages | what was accepted (`?to=`, `?provider=`); DELETE resets |
| GET /emulator/calls | send requests taken per provider (an Africa's Talking bulk call is one) |
| GET, POST, DELETE /emulator/faults | pending faults; add one; clear them |
| POST /emulator/sms | play a citizen: `{"provider", "from", "text", "to"?, "id"?}` |
| POST /emulator/ussd | play a citizen: `{"code", "phone", "text", "session"?}` |
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.emulator import africastalking_api, twilio_api
from gateway.emulator.citizen import GatewayAnswer, send_inbound_sms, send_ussd_hop
from gateway.emulator.faults import FaultError, parse_fault
from gateway.emulator.state import Emulator, EmulatorConfig

log = logging.getLogger("gateway.emulator")

MAX_BODY_BYTES = 1_000_000  # a 1,000-recipient AT call is ~20 kB
_TWILIO = "/2010-04-01/Accounts/{account_sid}/Messages"


class BadInput(ValueError):
    """A request to /emulator/… that makes no sense; answered 400 with the reason."""


def create_app(config: EmulatorConfig) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.emulator = Emulator(config)
        try:
            yield
        finally:
            await app.state.emulator.aclose()

    return Starlette(routes=ROUTES, lifespan=lifespan, max_body_size=MAX_BODY_BYTES)


async def home(request: Request) -> Response:
    return PlainTextResponse("gateway emulator: Africa's Talking + Twilio SMS APIs\n")


async def messages(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "DELETE":
        emulator.calls.clear()
        return JSONResponse({"deleted": emulator.store.clear()})
    found = emulator.store.list(
        to=request.query_params.get("to"), provider=request.query_params.get("provider")
    )
    return JSONResponse({"messages": [m.public() for m in found]})


async def calls(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    return JSONResponse({provider: emulator.calls[provider]
                         for provider in (africastalking_api.NAME, twilio_api.NAME)})


async def faults(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    if request.method == "DELETE":
        emulator.faults.clear()
    elif request.method == "POST":
        try:
            fault = parse_fault(await _json(request))
        except (BadInput, FaultError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        emulator.faults.add(fault)
    return JSONResponse({"faults": emulator.faults.pending()})


async def citizen_sms(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    try:
        data = await _json(request)
        provider = data.get("provider", "africastalking")
        if provider not in ("africastalking", "twilio"):
            raise BadInput("provider must be africastalking or twilio")
        sender, text = _text(data, "from"), _text(data, "text", empty=True)
        to, message_id = _optional(data, "to"), _optional(data, "id")
    except BadInput as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return await _relay(
        send_inbound_sms(
            emulator, provider=provider, sender=sender, text=text, to=to, message_id=message_id
        )
    )


async def citizen_ussd(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    try:
        data = await _json(request)
        code, phone = _text(data, "code"), _text(data, "phone")
        text, session = _text(data, "text", empty=True), _optional(data, "session")
    except BadInput as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return await _relay(send_ussd_hop(emulator, session=session, code=code, phone=phone, text=text))


async def _relay(posting: Any) -> Response:
    try:
        answer: GatewayAnswer = await posting
    except httpx.HTTPError as error:
        return JSONResponse(
            {"error": f"the gateway did not answer: {type(error).__name__}"}, status_code=502
        )
    return JSONResponse(answer.public())


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise BadInput("the body must be JSON") from None
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str, *, empty: bool = False) -> str:
    value = data.get(key, "" if empty else None)
    if not isinstance(value, str) or (not empty and not value):
        raise BadInput(f"{key} must be a {'' if empty else 'non-empty '}string")
    return value


def _optional(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadInput(f"{key} must be a non-empty string")
    return value


ROUTES = [
    Route("/", home),
    Route("/version1/messaging", africastalking_api.send, methods=["POST"]),
    Route(_TWILIO + ".json", twilio_api.create, methods=["POST"]),
    Route(_TWILIO + ".json", twilio_api.listing, methods=["GET"]),
    Route(_TWILIO + "/{message_sid}.json", twilio_api.fetch, methods=["GET"]),
    Route("/emulator/messages", messages, methods=["GET", "DELETE"]),
    Route("/emulator/calls", calls, methods=["GET"]),
    Route("/emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/emulator/sms", citizen_sms, methods=["POST"]),
    Route("/emulator/ussd", citizen_ussd, methods=["POST"]),
]
