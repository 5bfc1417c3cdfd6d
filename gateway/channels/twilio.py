"""Twilio: parse its SMS webhooks, check their signatures, send SMS, render the TwiML reply.

Everything specific to Twilio's field names, statuses and error codes lives here. Sending goes
through the official SDK (`twilio.rest.Client`) with an explicit timeout, pointed at
`twilio.api_url` (e.g. the emulator) when that is set. Replies to an inbound SMS go through the
outbox like every other message, so the webhook answers an empty `<Response/>`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from gateway.channels.base import (
    BadRequest,
    DeliveryReport,
    DeliveryStatus,
    InboundSms,
    OutgoingSms,
    SendResult,
    TransportError,
    http_error,
    network_error,
    send_in_calls,
)
from gateway.phone import InvalidPhoneNumber, normalise_e164

if TYPE_CHECKING:
    from datetime import datetime

    from gateway.config import Settings

NAME = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
INBOUND_PATH = "/sms/twilio"
STATUS_PATH = "/sms/twilio/status"

# Status callback `MessageStatus` -> our message status.
DELIVERY_STATUSES: dict[str, DeliveryStatus] = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}

OPTED_OUT = 21610
# Error codes of a send that no retry can fix: the message is marked failed with this reason.
# Any other 4xx is permanent too (the request itself is wrong); 429, 5xx and 401/403 are not.
PERMANENT_ERRORS: dict[int, str] = {
    OPTED_OUT: "the recipient has opted out (STOP)",
    21211: "invalid 'To' phone number",
    21614: "'To' is not a mobile number",
    21408: "sending to this region is not enabled",
    21612: "Twilio cannot route to this number",
}
# Codes seen in status callbacks, for a readable failure reason.
DELIVERY_ERRORS: dict[str, str] = {
    "21610": "the recipient has opted out (STOP)",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
    "30008": "unknown error",
}

LIMITS: dict[str, int] = {
    "MessageSid": 64,
    "SmsSid": 64,
    "AccountSid": 64,
    "From": 64,
    "To": 64,
    "NumSegments": 4,
    "MessageStatus": 32,
    "SmsStatus": 32,
    "ErrorCode": 8,
}
_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTTP_LOG = logging.getLogger("gateway.channels.twilio.http")  # the SDK logs every header


def parse_inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """Validate an incoming SMS (`MessageSid, From, To, Body, NumSegments, ...`)."""
    _check_lengths(form)
    return InboundSms(
        provider=NAME,
        provider_id=_sid(form, "MessageSid"),
        sender=_phone(form, "From"),
        to=_phone(form, "To"),
        text=_CONTROL.sub(" ", form.get("Body", "")),
        segments=_optional_int(form, "NumSegments"),
    )


def parse_status(form: Mapping[str, str]) -> DeliveryReport:
    """Validate a status callback (`MessageSid, MessageStatus, ErrorCode, ...`)."""
    _check_lengths(form)
    raw = form.get("MessageStatus", "").strip()
    if raw not in DELIVERY_STATUSES:
        if not raw:
            raise BadRequest("missing MessageStatus")
        raise BadRequest(f"unknown MessageStatus {raw!r}", label="unknown MessageStatus")
    code = form.get("ErrorCode", "").strip()
    if code and not code.isdigit():
        raise BadRequest("ErrorCode is not a number")
    reason = f"{code} {DELIVERY_ERRORS.get(code, '')}".strip() if code else ""
    return DeliveryReport(
        provider=NAME,
        provider_id=_sid(form, "MessageSid"),
        status=DELIVERY_STATUSES[raw],
        provider_status=raw,
        reason=reason,
        error_code=code,
        opted_out=code == str(OPTED_OUT),
    )


parse_delivery = parse_status  # the verb africastalking.py uses, so callers need no `if`


def signed_url(public_url: str | None, request_url: str) -> str:
    """The URL Twilio signed: GATEWAY_PUBLIC_URL + path + query behind a proxy, else as received.

    >>> signed_url("https://sms.example.org", "http://10.0.0.5:8000/sms/twilio?x=1")
    'https://sms.example.org/sms/twilio?x=1'
    """
    if not public_url:
        return request_url
    parts = urlsplit(request_url)
    query = f"?{parts.query}" if parts.query else ""
    return public_url.rstrip("/") + parts.path + query


def verify_signature(
    url: str, params: Mapping[str, Any], signature: str | None, auth_token: str
) -> bool:
    """Twilio's X-Twilio-Signature check (HMAC-SHA1, constant-time compare inside the SDK)."""
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def sign(url: str, params: Mapping[str, Any], auth_token: str) -> str:
    """The signature Twilio would send; the emulator signs its webhooks with it."""
    return RequestValidator(auth_token).compute_signature(url, params)


def render_reply() -> str:
    """An empty TwiML answer: replies go out through the outbox, never inline."""
    return str(MessagingResponse())


def send_sms(settings: Settings, messages: Sequence[OutgoingSms]) -> list[SendResult]:
    """Send each message through the SDK (Twilio takes one recipient per call).

    Raises TransportError when the first call fails as a whole (429, 5xx, timeout, connection
    refused); after that, see `base.send_in_calls`.
    """
    api = client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio.api_url,
        settings.twilio.timeout_seconds,
    )
    callback = status_callback_url(settings)
    default_from = settings.twilio.numbers[0] if settings.twilio.numbers else None
    service = settings.twilio.messaging_service_sid or None

    def call(batch: list[OutgoingSms]) -> list[SendResult]:
        return [_send_one(api, batch[0], batch[0].sender or default_from, service, callback)]

    return send_in_calls([[m] for m in messages], call)


def lookup(settings: Settings, message: OutgoingSms, since: datetime) -> list[str]:
    """Sids of messages to `message.to` with exactly its text, created since `since`, newest first.

    For reconciling a send whose answer was lost; raises TransportError if Twilio cannot answer.
    Filters on `date_created`, not Twilio's `DateSent`: a message still waiting in Twilio's own
    queue has no sent date yet, and missing it here would mean sending it twice.
    """
    api = client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio.api_url,
        settings.twilio.timeout_seconds,
    )
    try:
        found = api.messages.list(to=message.to, limit=200)  # newest first
    except requests.RequestException as error:
        raise network_error(error) from error
    except (TwilioRestException, TwilioServiceException) as error:
        raise http_error(error.status, _error_text(error)) from error
    since = since.replace(microsecond=0)  # Twilio's dates have whole seconds
    return [
        m.sid
        for m in found
        if m.sid and m.body == message.text and m.date_created and m.date_created >= since
    ]


def status_callback_url(settings: Settings) -> str | None:
    """Where Twilio posts status callbacks: our public URL, when we have one."""
    return settings.public_url.rstrip("/") + STATUS_PATH if settings.public_url else None


@lru_cache(maxsize=8)
def client(account_sid: str, auth_token: str, api_url: str, timeout: float) -> Client:
    """An SDK client (cached: it keeps a pooled HTTP session) with our timeout and base URL."""
    _HTTP_LOG.setLevel(logging.WARNING)
    api = Client(
        account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout, logger=_HTTP_LOG)
    )
    if api_url:
        api.api.base_url = api_url.rstrip("/")
        api.edge = api.region = None  # TWILIO_EDGE/REGION would rewrite the host of api_url
    return api


def _send_one(
    api: Client,
    message: OutgoingSms,
    sender: str | None,
    service: str | None,
    callback: str | None,
) -> SendResult:
    if not sender and not service:
        raise TransportError(
            "no sender: set twilio.numbers or twilio.messaging_service_sid", permanent=True
        )
    options: dict[str, Any] = {"to": message.to, "body": message.text}
    if sender:
        options["from_"] = sender
    if service:
        options["messaging_service_sid"] = service
    if callback:
        options["status_callback"] = callback
    try:
        created = api.messages.create(**options)
    except requests.RequestException as error:
        raise network_error(error) from error
    except (TwilioRestException, TwilioServiceException) as error:
        return _refusal(message, error)
    except TwilioException as error:  # an answer the SDK could not read
        raise TransportError(
            f"unexpected answer from Twilio: {error}", permanent=False, maybe_sent=True
        ) from error
    return SendResult.sent(message.message_id, str(created.sid))


def _refusal(
    message: OutgoingSms, error: TwilioRestException | TwilioServiceException
) -> SendResult:
    """A per-message refusal, or TransportError when the call as a whole should be retried."""
    status, code = int(error.status), _code(error)
    failure = http_error(status, _error_text(error))
    if not failure.permanent:
        raise failure
    reason = failure.reason
    if code:
        reason = f"{code} {PERMANENT_ERRORS.get(code) or _error_text(error)}"
    return SendResult.refused(
        message.message_id, reason, permanent=True, opted_out=code == OPTED_OUT
    )


def _code(error: TwilioRestException | TwilioServiceException) -> int | None:
    try:
        return int(error.code) if error.code is not None else None
    except (TypeError, ValueError):
        return None


def _error_text(error: TwilioRestException | TwilioServiceException) -> str:
    text = getattr(error, "msg", None) or getattr(error, "detail", None) or ""
    text = text or getattr(error, "title", "") or type(error).__name__
    return str(text).removeprefix("Unable to create record: ")


def _check_lengths(form: Mapping[str, str]) -> None:
    for field, limit in LIMITS.items():
        if len(form.get(field, "")) > limit:
            raise BadRequest(f"{field} longer than {limit} characters")


def _sid(form: Mapping[str, str], field: str) -> str:
    value = form.get(field, "").strip()
    if not value:
        raise BadRequest(f"missing {field}")
    if not _SID.fullmatch(value):
        raise BadRequest(f"{field} has invalid characters")
    return value


def _phone(form: Mapping[str, str], field: str) -> str:
    raw = form.get(field, "").strip()
    if not raw:
        raise BadRequest(f"missing {field}")
    try:
        return normalise_e164(raw)
    except InvalidPhoneNumber:
        raise BadRequest(f"{field} is not a valid phone number") from None


def _optional_int(form: Mapping[str, str], field: str) -> int | None:
    raw = form.get(field, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise BadRequest(f"{field} is not a whole number")
    return int(raw)
