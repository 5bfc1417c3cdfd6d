"""Africa's Talking: parse its USSD and SMS webhooks, render USSD replies, send SMS.

Everything specific to AT's field names and statuses lives here; the rest of the gateway sees
`UssdHop`, `UssdEvent`, `Screen`, `InboundSms`, `DeliveryReport` and `SendResult`.
Sending goes through the official SDK (`africastalking.SMSService`), pointed at
`africastalking.api_url` (e.g. the emulator) when that is set.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import requests
from africastalking.Service import validate_phone
from africastalking.SMS import SMSService

from gateway.channels.base import (
    BadRequest,
    DeliveryReport,
    DeliveryStatus,
    InboundSms,
    LookupUnsupported,
    OutgoingSms,
    SendResult,
    TransportError,
    http_error,
    network_error,
    send_in_calls,
)
from gateway.flows.render import Screen
from gateway.phone import InvalidPhoneNumber, normalise_e164

if TYPE_CHECKING:
    from datetime import datetime

    from gateway.config import Settings

NAME = "africastalking"

# AT end-of-session status -> our session status (one table, like courier's status maps).
SESSION_STATUSES: dict[str, str] = {
    "Success": "completed",
    "Incomplete": "incomplete",
    "Failed": "failed",
}

# Longest value accepted per field; anything longer is not a real AT request.
LIMITS: dict[str, int] = {
    "sessionId": 128,
    "serviceCode": 32,
    "phoneNumber": 32,
    "networkCode": 16,
    "text": 2000,
    "status": 32,
    "cost": 32,
    "durationInMillis": 12,
    "hopsCount": 6,
    "input": 2000,
    "lastAppResponse": 2000,
    "errorMessage": 500,
    "date": 64,
}

_VISIBLE = re.compile(r"[\x21-\x7e]+")
_BELOW_SPACE = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class UssdHop:
    session_id: str
    service_code: str
    phone: str  # E.164; never logged or stored raw
    network_code: str
    text: str


@dataclass(frozen=True)
class UssdEvent:
    session_id: str
    service_code: str
    phone: str | None
    network_code: str
    status: str  # a value of SESSION_STATUSES
    cost: str
    duration_ms: int | None
    hops_count: int | None
    input: str
    last_app_response: str
    error_message: str


def parse_ussd_hop(form: Mapping[str, str]) -> UssdHop:
    """Validate one USSD hop; raises BadRequest naming the first problem."""
    _check_lengths(form)
    return UssdHop(
        session_id=_session_id(form),
        service_code=_required_visible(form, "serviceCode"),
        phone=_phone(form, required=True) or "",
        network_code=form.get("networkCode", "").strip(),
        text=_text(form, "text"),
    )


def parse_ussd_event(form: Mapping[str, str]) -> UssdEvent:
    """Validate an end-of-session notification; raises BadRequest naming the first problem."""
    _check_lengths(form)
    raw_status = form.get("status", "").strip()
    if raw_status not in SESSION_STATUSES:
        if not raw_status:
            raise BadRequest("missing status")
        raise BadRequest(f"unknown status {raw_status!r}", label="unknown status")
    return UssdEvent(
        session_id=_session_id(form),
        service_code=_plain(form, "serviceCode"),
        phone=_phone(form, required=False),
        network_code=_plain(form, "networkCode"),
        status=SESSION_STATUSES[raw_status],
        cost=_plain(form, "cost"),
        duration_ms=_optional_int(form, "durationInMillis"),
        hops_count=_optional_int(form, "hopsCount"),
        input=clean_text(form.get("input", "")),
        last_app_response=clean_text(form.get("lastAppResponse", "")),
        error_message=clean_text(form.get("errorMessage", "")).strip(),
    )


def render_ussd(screen: Screen) -> str:
    """AT's reply body: `CON ` keeps the session open, `END ` closes it."""
    return ("END " if screen.final else "CON ") + screen.text


def _check_lengths(form: Mapping[str, str]) -> None:
    for field, value in form.items():  # the form's few fields first: nearly always all fine
        limit = LIMITS.get(field)
        if limit is not None and len(value) > limit:
            break
    else:
        return
    for field, limit in LIMITS.items():  # name the first problem in LIMITS' order
        if len(form.get(field, "")) > limit:
            raise BadRequest(f"{field} longer than {limit} characters")


def _session_id(form: Mapping[str, str]) -> str:
    return _required_visible(form, "sessionId")


def _required_visible(form: Mapping[str, str], field: str) -> str:
    value = form.get(field)
    if value is None:
        raise BadRequest(f"missing {field}")
    value = value.strip()
    if not value:
        raise BadRequest(f"empty {field}")
    if not _VISIBLE.fullmatch(value):
        raise BadRequest(f"{field} has invalid characters")
    return value


def _plain(form: Mapping[str, str], field: str) -> str:
    """An optional short value (a code, a cost): no control characters, which PostgreSQL refuses
    (NUL) or which no provider sends."""
    value = form.get(field, "").strip()
    if _CONTROL.search(value):
        raise BadRequest(f"{field} has control characters")
    return value


def _phone(form: Mapping[str, str], *, required: bool) -> str | None:
    raw = form.get("phoneNumber", "").strip()
    if not raw:
        if required:
            raise BadRequest("missing phoneNumber")
        return None
    try:
        return _hop_number(raw)
    except InvalidPhoneNumber:
        raise BadRequest("phoneNumber is not a valid phone number") from None


@functools.lru_cache(maxsize=16384)
def _hop_number(raw: str) -> str:
    """`normalise_e164`, remembered: every hop of a session repeats the number, and parsing it
    was a tenth of a hop's CPU (and a fifth of an inbound SMS's, once the rest was made lean:
    a citizen answering a poll texts from the same number again and again). Only valid numbers
    are kept (an exception is not cached), in this process's memory only, like the request
    itself."""
    return normalise_e164(raw)


def _text(form: Mapping[str, str], field: str) -> str:
    value = form.get(field, "")  # AT always sends it; a missing one means "" (first hop)
    if _BELOW_SPACE.search(value):
        raise BadRequest(f"{field} has control characters")
    return value


def _optional_int(form: Mapping[str, str], field: str) -> int | None:
    raw = form.get(field, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{field} is not a whole number") from None
    if value < 0:
        raise BadRequest(f"{field} is negative")
    return value


# --- SMS ---------------------------------------------------------------------------------------

# Delivery report `status` -> our message status (AT's documented values; all others are refused).
DELIVERY_STATUSES: dict[str, DeliveryStatus] = {
    "Sent": "sent",
    "Submitted": "sent",
    "Buffered": "sent",
    "Success": "delivered",
    "Rejected": "failed",
    "Failed": "failed",
}

Outcome = Literal["accepted", "transient", "permanent"]

# A recipient's `statusCode` in the send answer -> (AT's name, what it means for us). Transient:
# the same message may go through later (balance topped up, AT or the network recovered).
# Permanent: sending it again gets the same refusal.
RECIPIENT_STATUSES: dict[int, tuple[str, Outcome]] = {
    100: ("Processed", "accepted"),
    101: ("Sent", "accepted"),
    102: ("Queued", "accepted"),
    401: ("RiskHold", "permanent"),
    402: ("InvalidSenderId", "permanent"),
    403: ("InvalidPhoneNumber", "permanent"),
    404: ("UnsupportedNumberType", "permanent"),
    405: ("InsufficientBalance", "transient"),
    406: ("UserInBlacklist", "permanent"),
    407: ("CouldNotRoute", "transient"),
    409: ("DoNotDisturbRejection", "permanent"),
    500: ("InternalServerError", "transient"),
    501: ("GatewayError", "transient"),
    502: ("RejectedByGateway", "permanent"),
}
_OUTCOME_BY_NAME = {name: outcome for name, outcome in RECIPIENT_STATUSES.values()}

MAX_RECIPIENTS = 1000  # per call; bigger batches are split

SMS_LIMITS: dict[str, int] = {
    "id": 128,
    "linkId": 128,
    "from": 32,
    "to": 32,
    "date": 64,
    "networkCode": 16,
    "phoneNumber": 32,
    "status": 32,
    "failureReason": 128,
    "retryCount": 6,
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """Validate an incoming SMS (`from, to, text, date, id, linkId, networkCode`)."""
    _check_sms_lengths(form)
    return InboundSms(
        provider=NAME,
        provider_id=_required_visible(form, "id"),
        sender=_required_phone(form, "from"),
        to=_required_visible(form, "to"),
        text=clean_text(form.get("text", "")),
        link_id=form.get("linkId", "").strip(),
    )


def parse_delivery(form: Mapping[str, str]) -> DeliveryReport:
    """Validate a delivery report (`id, status, phoneNumber, networkCode, failureReason`)."""
    _check_sms_lengths(form)
    raw = form.get("status", "").strip()
    if raw not in DELIVERY_STATUSES:
        if not raw:
            raise BadRequest("missing status")
        raise BadRequest(f"unknown status {raw!r}", label="unknown status")
    return DeliveryReport(
        provider=NAME,
        provider_id=_required_visible(form, "id"),
        status=DELIVERY_STATUSES[raw],
        provider_status=raw,
        reason=clean_text(form.get("failureReason", "")).strip(),
    )


def clean_text(text: str) -> str:
    """Citizen text is data: control characters (bar newline and tab) become spaces."""
    return _CONTROL.sub(" ", text)


def send_sms(settings: Settings, messages: Sequence[OutgoingSms]) -> list[SendResult]:
    """Send through the SDK: one call per text (up to MAX_RECIPIENTS numbers), one result each.

    Each recipient's `statusCode` is checked. Raises TransportError when the first call fails
    as a whole (HTTP 429/5xx, timeout, connection refused); see `base.send_in_calls`.
    """
    service = sms_service(settings)
    timeout = settings.africastalking.timeout_seconds
    default_sender = settings.africastalking.sender_id or None
    invalid = [m for m in messages if not validate_phone(m.to)]
    valid = [m for m in messages if validate_phone(m.to)]
    results = [
        SendResult.refused(m.message_id, "not an international phone number", permanent=True)
        for m in invalid
    ]
    results += send_in_calls(
        _calls(valid),
        lambda batch: _send_call(service, batch, batch[0].sender or default_sender, timeout),
    )
    order = {m.message_id: index for index, m in enumerate(messages)}
    return sorted(results, key=lambda r: order[r.message_id])


def lookup(settings: Settings, message: OutgoingSms, since: datetime) -> list[str]:
    """AT offers no way to list the SMS we sent: the caller must not guess."""
    raise LookupUnsupported("Africa's Talking cannot look up sent messages")


class _SMSService(SMSService):
    """The SDK's SMS service, keeping the HTTP status of a refused call.

    The SDK turns every non-2xx answer into `AfricasTalkingException(body)`, dropping the
    status that tells a 429 (retry later) from a 400 (do not); its POST helper is replaced by
    one that raises our TransportError with the status. URL, headers and form stay the SDK's.
    """

    @staticmethod
    def _Service__make_post_request(  # Service.__make_post_request, name-mangled
        url: str,
        headers: dict[str, str],
        data: dict[str, Any],
        params: dict[str, Any] | None,
        callback: Any = None,
        timeout: Any = None,
    ) -> requests.Response:
        try:
            response = requests.post(
                url=url, headers=headers, params=params, data=data, timeout=timeout
            )
        except requests.RequestException as error:
            raise network_error(error) from error
        if not 200 <= response.status_code < 300:
            raise http_error(response.status_code, response.text)
        return response


def sms_service(settings: Settings) -> SMSService:
    service = _SMSService(settings.at_username, settings.at_api_key)
    if settings.africastalking.api_url:
        service._baseUrl = settings.africastalking.api_url.rstrip("/") + "/version1"
    return service


def _calls(messages: list[OutgoingSms]) -> list[list[OutgoingSms]]:
    """Group by (text, sender); a number appears at most once per call."""
    calls: list[list[OutgoingSms]] = []
    open_calls: dict[tuple[str, str | None], list[tuple[list[OutgoingSms], set[str]]]] = {}
    for message in messages:
        groups = open_calls.setdefault((message.text, message.sender), [])
        target = next(
            (g for g in groups if len(g[0]) < MAX_RECIPIENTS and message.to not in g[1]), None
        )
        if target is None:
            target = ([], set())
            groups.append(target)
            calls.append(target[0])
        target[0].append(message)
        target[1].add(message.to)
    return calls


def _send_call(
    service: SMSService, batch: list[OutgoingSms], sender: str | None, timeout: float
) -> list[SendResult]:
    answer = service.send(
        batch[0].text, [m.to for m in batch], sender_id=sender, timeout=timeout
    )
    data = answer.get("SMSMessageData") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise TransportError("unexpected answer from Africa's Talking", permanent=False,
                             maybe_sent=True)
    recipients = data.get("Recipients") or []
    if not recipients:  # the whole request was refused, e.g. {"Message": "InvalidSenderId"}
        message = str(data.get("Message") or "no recipients in the answer")
        permanent = _OUTCOME_BY_NAME.get(message, "permanent") == "permanent"
        raise TransportError(f"refused: {message}", permanent=permanent)
    by_number = {str(r.get("number", "")): r for r in recipients if isinstance(r, dict)}
    return [_recipient_result(m, by_number.get(m.to)) for m in batch]


def _recipient_result(message: OutgoingSms, recipient: dict[str, Any] | None) -> SendResult:
    if recipient is None:
        return SendResult.refused(
            message.message_id, "missing from the provider's answer", permanent=False,
            maybe_sent=True,
        )
    code = _status_code(recipient.get("statusCode"))
    name, outcome = RECIPIENT_STATUSES.get(code, (str(recipient.get("status", "")), "permanent"))
    if outcome == "accepted":
        provider_id = str(recipient.get("messageId") or "")
        return SendResult(message.message_id, provider_id or None, "sent")
    return SendResult.refused(
        message.message_id, f"{code} {name}".strip(), permanent=outcome != "transient"
    )


def _status_code(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _check_sms_lengths(form: Mapping[str, str]) -> None:
    for field, limit in SMS_LIMITS.items():
        if len(form.get(field, "")) > limit:
            raise BadRequest(f"{field} longer than {limit} characters")


def _required_phone(form: Mapping[str, str], field: str) -> str:
    raw = form.get(field, "").strip()
    if not raw:
        raise BadRequest(f"missing {field}")
    try:
        return _hop_number(raw)
    except InvalidPhoneNumber:
        raise BadRequest(f"{field} is not a valid phone number") from None
