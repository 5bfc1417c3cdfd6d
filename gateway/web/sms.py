"""SMS webhooks: inbound messages and delivery reports from Africa's Talking and Twilio.

Each request is checked before anything is touched: the body is a small form (else 400/413),
Twilio's signature is valid (else 403), Africa's Talking's optional token matches (else 403),
the fields parse (else 400 with a one-line reason). An inbound SMS is then processed once
(gateway.sms.conversation): a duplicate is acknowledged with 200 and not processed again.
Redis or the database being down answers 503 quickly, so the provider retries later; any other
failure answers a bare 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.channels import africastalking, twilio
from gateway.channels.base import BadRequest, DeliveryReport, InboundSms
from gateway.delivery import apply_report
from gateway.metrics import DELIVERY_REPORTS, SMS_INBOUND, WEBHOOK_REJECTIONS
from gateway.phone import InvalidPhoneNumber, mask, normalise_e164, pseudonym
from gateway.sms import conversation
from gateway.web.ussd import read_form

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

TWIML = "text/xml"
# Redis answers in a millisecond and the transaction in a few; past this something is down, and
# the provider (Africa's Talking gives up at 10 s) is better told 503 now, to retry later. The
# database's own limits (gateway.db: 2 s to connect, 5 s for a pooled connection) come first.
# (A database thread still running then may commit: the unique constraint keeps a retry single.)
SMS_DEADLINE_SECONDS = 6.0


# --- inbound ------------------------------------------------------------------------------------


async def africastalking_inbound(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        form = await _africastalking_form(request, runtime.settings)
        sms = africastalking.parse_inbound_sms(form)
    except BadRequest as error:
        return _bad(error)
    return await _receive(request, sms, PlainTextResponse("ok"))


async def twilio_inbound(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        form = await _twilio_form(request, runtime.settings)
        sms = twilio.parse_inbound_sms(form)
        if sms.to not in _our_twilio_numbers(runtime.settings):
            raise BadRequest("To is not one of our Twilio numbers", status=403)
    except BadRequest as error:
        return _bad(error)
    return await _receive(request, sms, _twiml())


async def _receive(request: Request, sms: InboundSms, ok: Response) -> Response:
    runtime: Runtime = request.app.state.runtime
    # the duplicate check and the per-number limit go through the process's lean Redis client
    # (gateway.hop_redis), as the USSD hop's commands do; redis-py when there is none
    lean = getattr(request.app.state, "hop_redis", None)
    try:
        async with asyncio.timeout(SMS_DEADLINE_SECONDS):
            received = await conversation.receive(runtime, sms, redis=lean)
    except (RedisConnectionError, RedisTimeoutError, TimeoutError) as error:
        return _unavailable("redis", sms, error)
    except SQLAlchemyError as error:
        return _unavailable("database", sms, error)
    except Exception:
        SMS_INBOUND.labels(outcome="error").inc()
        log.exception("sms from %s (%s) failed", mask(sms.sender), sms.provider)
        return PlainTextResponse("internal error", status_code=500)
    SMS_INBOUND.labels(outcome=received.outcome).inc()
    return ok


def _unavailable(what: str, sms: InboundSms, error: Exception) -> Response:
    SMS_INBOUND.labels(outcome=f"{what}_down").inc()
    log.warning("sms from %s (%s): %s unavailable (%s)",
                mask(sms.sender), sms.provider, what, type(error).__name__)
    return PlainTextResponse(f"{what} unavailable", status_code=503)


# --- delivery reports ---------------------------------------------------------------------------


async def africastalking_delivery(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        form = await _africastalking_form(request, runtime.settings)
        report = africastalking.parse_delivery(form)
    except BadRequest as error:
        return _bad(error)
    return await _apply(runtime, report, _recipient(form, "phoneNumber", runtime.settings),
                        PlainTextResponse("ok"))


async def twilio_status(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        form = await _twilio_form(request, runtime.settings)
        report = twilio.parse_status(form)
    except BadRequest as error:
        return _bad(error)
    return await _apply(runtime, report, _recipient(form, "To", runtime.settings), _twiml())


async def _apply(
    runtime: Runtime, report: DeliveryReport, contact: str | None, ok: Response
) -> Response:
    try:
        async with asyncio.timeout(SMS_DEADLINE_SECONDS):
            outcome = await run_in_threadpool(
                apply_report,
                runtime.engine,
                report.provider,
                report.provider_id,
                report.provider_status,
                failure_reason=_meaning(report),
                error_code=report.error_code or None,
                contact_pseudonym=contact,
            )
    except (SQLAlchemyError, TimeoutError) as error:
        DELIVERY_REPORTS.labels(outcome="database_down").inc()
        log.warning("%s delivery report: database unavailable (%s)",
                    report.provider, type(error).__name__)
        return PlainTextResponse("database unavailable", status_code=503)
    DELIVERY_REPORTS.labels(outcome=outcome).inc()
    return ok


def _meaning(report: DeliveryReport) -> str | None:
    """The failure reason without the error code, which is passed on its own."""
    reason = report.reason
    if report.error_code and reason.startswith(report.error_code):
        reason = reason[len(report.error_code):]
    return reason.strip() or None


def _recipient(form: Mapping[str, str], field: str, settings: Settings) -> str | None:
    """The recipient's pseudonym, to match a report that arrives before the provider's id."""
    try:
        return pseudonym(normalise_e164(form.get(field, "")), settings.secret_key)
    except InvalidPhoneNumber:
        return None


# --- checks -------------------------------------------------------------------------------------


async def _africastalking_form(request: Request, settings: Settings) -> dict[str, str]:
    """The form, once the optional shared token (?token=... or a form field) matches."""
    form = await read_form(request, settings.app.max_body_bytes)
    expected = settings.sms.webhook_token
    if expected:
        given = request.query_params.get("token") or form.get("token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadRequest("bad or missing token", status=403)
    return form


async def _twilio_form(request: Request, settings: Settings) -> dict[str, str]:
    """The form, once its X-Twilio-Signature is valid for the URL Twilio called."""
    form = await read_form(request, settings.app.max_body_bytes)
    url = twilio.signed_url(settings.public_url, str(request.url))
    signature = request.headers.get(twilio.SIGNATURE_HEADER)
    if not twilio.verify_signature(url, form, signature, settings.twilio_auth_token):
        raise BadRequest(f"bad or missing {twilio.SIGNATURE_HEADER}", status=403)
    return form


def _our_twilio_numbers(settings: Settings) -> set[str]:
    numbers = set()
    for number in settings.twilio.numbers:
        try:
            numbers.add(normalise_e164(number))
        except InvalidPhoneNumber:
            log.error("twilio.numbers: %r is not a phone number", number[:32])
    return numbers


def _twiml() -> Response:
    return Response(twilio.render_reply(), media_type=TWIML)


def _bad(error: BadRequest) -> Response:
    WEBHOOK_REJECTIONS.labels(reason=error.label).inc()
    return PlainTextResponse(error.reason, status_code=error.status)


routes: list[Route] = [
    Route("/sms/africastalking", africastalking_inbound, methods=["POST"]),
    Route("/sms/africastalking/delivery", africastalking_delivery, methods=["POST"]),
    Route("/sms/twilio", twilio_inbound, methods=["POST"]),
    Route("/sms/twilio/status", twilio_status, methods=["POST"]),
]
