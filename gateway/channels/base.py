"""What every provider's send returns, and how its errors are classified.

`send_sms(settings, messages)` gives one `SendResult` per message: accepted, or refused
(invalid number, opted out...) for good or for now. When the first call fails as a whole
(timeout, 429, 5xx, connection refused), so that the failure covers every message, it raises
`TransportError` instead; `permanent` says whether trying again later can help. As in
healthchecks' transports: one exception, one flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import requests
from urllib3.exceptions import ConnectTimeoutError

SendStatus = Literal["sent", "failed", "retry"]
DeliveryStatus = Literal["sent", "delivered", "failed"]

# HTTP statuses of a whole call that are worth retrying later; other 4xx mean the request
# itself is wrong, and sending it again gets the same answer.
TRANSIENT_HTTP = frozenset({401, 403, 408, 425, 429})  # 401/403: credentials being fixed


class BadRequest(ValueError):
    """A webhook we refuse; `reason` is one line for the provider's logs.

    `label` is the reason without any value the sender chose (a bounded metrics label).
    """

    def __init__(self, reason: str, status: int = 400, label: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.label = label or reason


@dataclass(frozen=True)
class InboundSms:
    """A citizen's SMS as a provider reported it; `text` is as received (not yet truncated)."""

    provider: str
    provider_id: str  # AT `id`, Twilio `MessageSid`: the key for dropping duplicates
    sender: str  # the citizen's number, E.164; never logged or stored raw
    to: str  # our shortcode or number
    text: str
    link_id: str = ""  # AT premium SMS only
    segments: int | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's news about a message we sent, its status mapped through the module's table."""

    provider: str
    provider_id: str
    status: DeliveryStatus
    provider_status: str  # the provider's own word, e.g. "Success" or "undelivered"
    reason: str = ""  # AT failureReason, Twilio "30003 ..."
    error_code: str = ""  # Twilio ErrorCode
    opted_out: bool = False  # Twilio 21610: the recipient has opted out


@dataclass(frozen=True)
class OutgoingSms:
    """One message to send: the outbox row's id, an E.164 number, the final text."""

    message_id: int
    to: str
    text: str
    sender: str | None = None  # shortcode / sender id / our number; None = the provider default


@dataclass(frozen=True)
class SendResult:
    """The provider's answer for one message.

    `sent`: accepted, `provider_id` set. `failed`: refused for good (`permanent`). `retry`: not
    accepted this time, worth trying again later; with `maybe_sent` the answer was lost and the
    provider may have it (see TransportError). `opted_out` marks Twilio's 21610, which also
    stops the contact.
    """

    message_id: int
    provider_id: str | None
    status: SendStatus
    reason: str = ""
    permanent: bool = False
    opted_out: bool = False
    maybe_sent: bool = False

    @classmethod
    def sent(cls, message_id: int, provider_id: str) -> SendResult:
        return cls(message_id, provider_id, "sent")

    @classmethod
    def refused(
        cls,
        message_id: int,
        reason: str,
        *,
        permanent: bool,
        opted_out: bool = False,
        maybe_sent: bool = False,
    ) -> SendResult:
        status: SendStatus = "failed" if permanent else "retry"
        return cls(message_id, None, status, reason, permanent, opted_out, maybe_sent)


class TransportError(Exception):
    """A call failed as a whole; raised by `send_sms` only when no message was accepted.

    `maybe_sent` is True when the request reached the provider but its answer was lost (a read
    timeout, an unreadable answer): the provider may have accepted the messages, so a blind
    resend could double them.
    """

    def __init__(self, reason: str, *, permanent: bool, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.maybe_sent = maybe_sent


class LookupUnsupported(Exception):
    """The provider cannot say whether it has a message (Africa's Talking has no such API)."""


def http_error(status: int, detail: str) -> TransportError:
    """A whole call answered with an HTTP error status."""
    transient = status in TRANSIENT_HTTP or status >= 500
    return TransportError(f"HTTP {status}: {_one_line(detail)}", permanent=not transient)


def network_error(error: requests.RequestException) -> TransportError:
    """Timeouts and connection failures are transient. Only a failure to open the connection
    proves nothing was sent: a read timeout, or a connection dropped after the request went out,
    may hide a success, so the outbox must not simply send it again."""
    maybe_sent = not _before_sending(error)
    kind = "timeout" if isinstance(error, requests.Timeout) else "connection failed"
    return TransportError(f"{kind}: {type(error).__name__}", permanent=False, maybe_sent=maybe_sent)


def _before_sending(error: requests.RequestException) -> bool:
    """The connection was never opened: refused, unresolvable, or timed out while connecting."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError):
        return False
    cause = error.args[0] if error.args else None
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real cause
    return isinstance(cause, ConnectTimeoutError)  # NewConnectionError is one


def send_in_calls(
    calls: list[list[OutgoingSms]],
    call: Callable[[list[OutgoingSms]], list[SendResult]],
) -> list[SendResult]:
    """Run the calls in order; raise TransportError only while it still covers every message.

    Once a result exists, raising would lose it (and an accepted message would be sent again),
    so a failed call's messages get `retry`/`failed` results instead. After a transient failure
    the remaining calls are not tried (`retry`); after a permanent one (that batch was wrong),
    they still are.
    """
    results: list[SendResult] = []
    for index, batch in enumerate(calls):
        try:
            results.extend(call(batch))
        except TransportError as error:
            rest = [m for later in calls[index + 1 :] for m in later]
            if not results and (not rest or not error.permanent):
                raise
            results.extend(_refused(batch, error, tried=True))
            if not error.permanent:
                results.extend(_refused(rest, error, tried=False))
                break
    return results


def _refused(
    messages: list[OutgoingSms], error: TransportError, *, tried: bool
) -> list[SendResult]:
    reason = error.reason if tried else f"not tried after: {error.reason}"
    return [
        SendResult.refused(
            m.message_id,
            reason,
            permanent=error.permanent and tried,
            maybe_sent=error.maybe_sent and tried,
        )
        for m in messages
    ]


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
