"""Twilio: webhook parsing, signatures (published vectors), and sending through the real SDK.

Sends go over real HTTP to the emulator, or to a canned fake provider for the error codes the
emulator does not produce.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from emulator_support import canned, emulated, sms_settings

from gateway.channels import twilio
from gateway.channels.base import BadRequest, OutgoingSms, TransportError
from gateway.config import DEV_TWILIO_ACCOUNT_SID, EMULATOR_TWILIO_NUMBER
from gateway.emulator.client import EmulatorClient

# --- signatures ---------------------------------------------------------------------------------

URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


def vector_params(caller: str) -> dict[str, str]:
    return {
        "CallSid": "CA1234567890ABCDE",
        "Caller": caller,
        "Digits": "1234",
        "From": caller,
        "To": "+18005551212",
    }


# Published vectors, auth token "12345": the one twilio-python's own tests sign
# (tests/unit/test_request_validator.py) and the one in Twilio's webhook security docs.
VECTORS = [
    ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
]


@pytest.mark.parametrize(("caller", "expected"), VECTORS)
def test_published_signature_vectors_verify(caller: str, expected: str) -> None:
    params = vector_params(caller)

    assert twilio.sign(URL, params, "12345") == expected
    assert twilio.verify_signature(URL, params, expected, "12345")


@pytest.mark.parametrize(
    ("url", "params", "signature", "token"),
    [
        (URL, {**vector_params("+14158675309"), "Digits": "9999"}, VECTORS[0][1], "12345"),
        (URL, {**vector_params("+14158675309"), "Body": "extra"}, VECTORS[0][1], "12345"),
        ("https://mycompany.com/myapp.php?foo=1&bar=3", vector_params("+14158675309"),
         VECTORS[0][1], "12345"),
        ("https://evil.example/myapp.php?foo=1&bar=2", vector_params("+14158675309"),
         VECTORS[0][1], "12345"),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", vector_params("+14158675309"),
         VECTORS[0][1], "12345"),
        (URL, vector_params("+14158675309"), VECTORS[0][1], "54321"),
        (URL, vector_params("+14158675309"), "", "12345"),
        (URL, vector_params("+14158675309"), None, "12345"),
        (URL, vector_params("+14158675309"), VECTORS[0][1], ""),
    ],
    ids=["tampered-value", "added-field", "wrong-query", "wrong-host", "wrong-scheme",
         "wrong-token", "empty-signature", "missing-signature", "no-token"],
)  # fmt: skip
def test_a_tampered_body_or_wrong_url_fails(
    url: str, params: dict[str, str], signature: str | None, token: str
) -> None:
    assert not twilio.verify_signature(url, params, signature, token)


@pytest.mark.parametrize(
    ("public_url", "request_url", "signed"),
    [
        (None, "http://127.0.0.1:8000/sms/twilio", "http://127.0.0.1:8000/sms/twilio"),
        ("https://sms.example.org", "http://10.0.0.5:8000/sms/twilio?a=1&b=2",
         "https://sms.example.org/sms/twilio?a=1&b=2"),
        ("https://example.org/gw/", "http://10.0.0.5:8000/sms/twilio/status",
         "https://example.org/gw/sms/twilio/status"),
    ],
)  # fmt: skip
def test_the_signed_url_is_rebuilt_from_the_public_url(
    public_url: str | None, request_url: str, signed: str
) -> None:
    assert twilio.signed_url(public_url, request_url) == signed


def test_a_signature_made_for_the_public_url_verifies_behind_a_proxy() -> None:
    form = {"MessageSid": "SM" + "a" * 32, "From": "+254711000001", "Body": "POLL"}
    signature = twilio.sign("https://sms.example.org/sms/twilio", form, "tok")

    url = twilio.signed_url("https://sms.example.org", "http://10.0.0.5:8000/sms/twilio")

    assert twilio.verify_signature(url, form, signature, "tok")
    assert not twilio.verify_signature("http://10.0.0.5:8000/sms/twilio", form, signature, "tok")


# --- parsing ------------------------------------------------------------------------------------

INBOUND = {
    "MessageSid": "SM" + "0" * 32,
    "AccountSid": "AC" + "1" * 32,
    "From": "+254711000001",
    "To": "+15005550006",
    "Body": "Poll\nplease\x00",
    "NumSegments": "1",
}


def test_parse_inbound_sms() -> None:
    sms = twilio.parse_inbound_sms(INBOUND)

    assert (sms.provider, sms.provider_id, sms.sender, sms.to) == (
        "twilio", "SM" + "0" * 32, "+254711000001", "+15005550006"
    )
    assert sms.text == "Poll\nplease " and sms.segments == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": ""}, "missing MessageSid"),
        ({"MessageSid": "SM 1"}, "MessageSid has invalid characters"),
        ({"MessageSid": "S" * 65}, "MessageSid longer than 64 characters"),
        ({"From": ""}, "missing From"),
        ({"From": "whatsapp:+254711000001"}, "From is not a valid phone number"),
        ({"To": "abc"}, "To is not a valid phone number"),
        ({"NumSegments": "two"}, "NumSegments is not a whole number"),
    ],
)
def test_bad_inbound_sms_is_refused_with_a_reason(change: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        twilio.parse_inbound_sms({**INBOUND, **change})

    assert refused.value.reason == reason and refused.value.status == 400


@pytest.mark.parametrize(
    ("status", "ours"),
    [("queued", "sent"), ("accepted", "sent"), ("sending", "sent"), ("sent", "sent"),
     ("delivered", "delivered"), ("read", "delivered"), ("undelivered", "failed"),
     ("failed", "failed"), ("canceled", "failed")],
)  # fmt: skip
def test_status_callbacks_map_through_the_table(status: str, ours: str) -> None:
    report = twilio.parse_status({"MessageSid": "SM" + "2" * 32, "MessageStatus": status})

    assert (report.status, report.provider_status, report.opted_out) == (ours, status, False)


def test_a_status_callback_keeps_its_error_code_and_flags_an_opt_out() -> None:
    base = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "undelivered"}

    unreachable = twilio.parse_status({**base, "ErrorCode": "30003"})
    opted_out = twilio.parse_status({**base, "MessageStatus": "failed", "ErrorCode": "21610"})

    assert (unreachable.error_code, unreachable.reason) == (
        "30003", "30003 unreachable destination handset"
    )
    assert opted_out.opted_out and opted_out.status == "failed"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"MessageSid": "SM1"}, "missing MessageStatus"),
        ({"MessageSid": "SM1", "MessageStatus": "lost"}, "unknown MessageStatus 'lost'"),
        ({"MessageStatus": "sent"}, "missing MessageSid"),
        ({"MessageSid": "SM1", "MessageStatus": "sent", "ErrorCode": "x1"},
         "ErrorCode is not a number"),
    ],
)  # fmt: skip
def test_bad_status_callbacks_are_refused(form: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        twilio.parse_status(form)


def test_the_reply_is_empty_twiml() -> None:
    assert twilio.render_reply() == '<?xml version="1.0" encoding="UTF-8"?><Response />'


# --- sending through the SDK --------------------------------------------------------------------


def sms(message_id: int, to: str = "+254711000001", text: str = "Asante!") -> OutgoingSms:
    return OutgoingSms(message_id, to, text)


def test_the_sdk_client_is_pointed_at_api_url_with_our_timeout(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_TWILIO_TIMEOUT_SECONDS="2.5")

    client = twilio.client(
        settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio.api_url, 2.5
    )

    assert client.api.base_url == settings.twilio.api_url == "http://127.0.0.1:8001"
    assert client.http_client.timeout == 2.5


def test_send_through_the_emulator(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        results = twilio.send_sms(emulator.settings, [sms(1), sms(2, "+254711000002", "Kwaheri")])
        recorded = emulator.client.messages(provider="twilio")

    assert [(r.message_id, r.status) for r in results] == [(1, "sent"), (2, "sent")]
    assert all(r.provider_id and r.provider_id.startswith("SM") for r in results)
    assert [(m["id"], m["to"], m["sender"], m["text"]) for m in recorded] == [
        (results[0].provider_id, "+254711000001", EMULATOR_TWILIO_NUMBER, "Asante!"),
        (results[1].provider_id, "+254711000002", EMULATOR_TWILIO_NUMBER, "Kwaheri"),
    ]


def test_send_through_a_messaging_service(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_TWILIO_MESSAGING_SERVICE_SID="MG" + "5" * 32)

    with emulated(settings, tmp_path) as emulator:
        [result] = twilio.send_sms(emulator.settings, [sms(1)])
        [recorded] = emulator.client.messages()

    assert result.status == "sent" and recorded["sender"] == "MG" + "5" * 32


@pytest.mark.parametrize(
    ("kind", "reason", "opted_out"),
    [
        ("optout", "21610 the recipient has opted out (STOP)", True),
        ("blacklist", "21610 the recipient has opted out (STOP)", True),
        ("invalid", "21211 invalid 'To' phone number", False),
    ],
)
def test_recipient_faults_are_permanent_failures(
    tmp_path: Path, kind: str, reason: str, opted_out: bool
) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault(kind, provider="twilio")
        [refused] = twilio.send_sms(emulator.settings, [sms(7)])
        [accepted] = twilio.send_sms(emulator.settings, [sms(8)])  # the fault was used up
        recorded = emulator.client.messages()

    assert (refused.status, refused.permanent, refused.reason) == ("failed", True, reason)
    assert refused.opted_out is opted_out and refused.provider_id is None
    assert accepted.status == "sent" and [m["id"] for m in recorded] == [accepted.provider_id]


@pytest.mark.parametrize(("kind", "reason"), [("429", "HTTP 429"), ("500", "HTTP 500")])
def test_call_faults_are_transient_transport_errors(
    tmp_path: Path, kind: str, reason: str
) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault(kind, provider="twilio", count=2)
        errors = []
        for _ in range(2):
            with pytest.raises(TransportError) as raised:
                twilio.send_sms(emulator.settings, [sms(1)])
            errors.append(raised.value)
        [after] = twilio.send_sms(emulator.settings, [sms(1)])

    assert all(e.reason.startswith(reason) and not e.permanent for e in errors)
    assert not any(e.maybe_sent for e in errors)
    assert after.status == "sent"


def test_a_slow_answer_times_out_as_transient_and_may_have_been_sent(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_TWILIO_TIMEOUT_SECONDS="0.3")

    with emulated(settings, tmp_path) as emulator:
        emulator.client.fault("slow", provider="twilio", seconds=1)
        with pytest.raises(TransportError) as raised:
            twilio.send_sms(emulator.settings, [sms(1)])
        recorded = wait_for_messages(emulator.client, 1)

    assert raised.value.reason.startswith("timeout") and not raised.value.permanent
    assert raised.value.maybe_sent  # and indeed the emulator took it, after the timeout
    assert [m["text"] for m in recorded] == ["Asante!"]


def test_an_unreachable_api_is_a_transient_error(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_TWILIO_API_URL="http://127.0.0.1:9")

    with pytest.raises(TransportError) as raised:
        twilio.send_sms(settings, [sms(1)])

    assert raised.value.reason.startswith("connection failed") and not raised.value.permanent
    assert not raised.value.maybe_sent


def twilio_error(status: int, code: int, message: str = "refused") -> tuple[int, dict]:
    return status, {"code": code, "message": message, "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}"}  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "permanent", "reason"),
    [
        (twilio_error(400, 21610), True, "21610 the recipient has opted out (STOP)"),
        (twilio_error(400, 21211), True, "21211 invalid 'To' phone number"),
        (twilio_error(400, 21614), True, "21614 'To' is not a mobile number"),
        (twilio_error(400, 21408), True, "21408 sending to this region is not enabled"),
        (twilio_error(400, 21612), True, "21612 Twilio cannot route to this number"),
        (twilio_error(400, 21602, "Message body is required."), True,
         "21602 Message body is required."),
        (twilio_error(429, 20429), False, "HTTP 429"),
        (twilio_error(503, 20503), False, "HTTP 503"),
        (twilio_error(401, 20003, "Authenticate"), False, "HTTP 401"),
        ((502, "<html>Bad Gateway</html>"), False, "HTTP 502"),
    ],
)  # fmt: skip
def test_error_codes_are_classified(
    tmp_path: Path, answer: tuple[int, object], permanent: bool, reason: str
) -> None:
    with canned(answer) as (_, url):
        settings = sms_settings(tmp_path, GATEWAY_TWILIO_API_URL=url)
        try:
            [result] = twilio.send_sms(settings, [sms(3)])
        except TransportError as error:
            outcome = ("raised", error.permanent, error.reason)
        else:
            outcome = (result.status, result.permanent, result.reason)

    if permanent:
        assert outcome == ("failed", True, reason)
    else:
        assert outcome[:2] == ("raised", False) and outcome[2].startswith(reason)


def test_a_failure_after_an_accepted_message_returns_results_instead_of_raising(
    tmp_path: Path,
) -> None:
    accepted = (201, {"sid": "SM" + "9" * 32, "status": "queued"})
    with canned(accepted, twilio_error(429, 20429)) as (provider, url):
        settings = sms_settings(tmp_path, GATEWAY_TWILIO_API_URL=url)
        results = twilio.send_sms(settings, [sms(1), sms(2), sms(3)])

    assert [(r.message_id, r.status, r.provider_id) for r in results] == [
        (1, "sent", "SM" + "9" * 32), (2, "retry", None), (3, "retry", None)
    ]
    assert results[2].reason.startswith("not tried after: HTTP 429")
    assert len(provider.calls) == 2  # message 3 was not tried after the 429


def test_the_status_callback_is_our_public_url(tmp_path: Path) -> None:
    accepted = (201, {"sid": "SM" + "9" * 32, "status": "queued"})
    with canned(accepted) as (provider, url):
        settings = sms_settings(
            tmp_path, GATEWAY_TWILIO_API_URL=url, GATEWAY_PUBLIC_URL="https://sms.example.org"
        )
        twilio.send_sms(settings, [sms(1)])

    assert provider.calls[0]["StatusCallback"] == "https://sms.example.org/sms/twilio/status"
    assert provider.calls[0]["From"] == EMULATOR_TWILIO_NUMBER


def test_without_a_sender_nothing_is_sent(tmp_path: Path) -> None:
    with canned((201, {})) as (provider, url):
        settings = sms_settings(
            tmp_path, GATEWAY_TWILIO_API_URL=url, TWILIO_ACCOUNT_SID=DEV_TWILIO_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN="x",
        )  # fmt: skip
        with pytest.raises(TransportError, match="no sender") as raised:
            twilio.send_sms(settings, [sms(1)])

    assert raised.value.permanent and provider.calls == []


def test_lookup_finds_a_sent_message_by_number_and_text(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        since = datetime.now(UTC) - timedelta(seconds=5)
        [first] = twilio.send_sms(emulator.settings, [sms(1, text="Hello")])
        twilio.send_sms(emulator.settings, [sms(2, text="Other"), sms(3, "+254711000009")])
        found = twilio.lookup(emulator.settings, sms(1, text="Hello"), since)
        soon = datetime.now(UTC) + timedelta(seconds=2)  # the SDK sends whole seconds
        later = twilio.lookup(emulator.settings, sms(1, text="Hello"), soon)
        missing = twilio.lookup(emulator.settings, sms(1, text="Never sent"), since)

    assert found == [first.provider_id]
    assert later == [] and missing == []


def wait_for_messages(client: EmulatorClient, count: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        messages = client.messages()
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)
