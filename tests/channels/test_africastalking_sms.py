"""Africa's Talking SMS: webhook parsing and sending through the real SDK over real HTTP.

Per-recipient statuses come from the emulator's faults, and every documented statusCode from a
canned fake provider; the classification table is checked code by code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from emulator_support import canned, emulated, sms_settings

from gateway.channels import africastalking as at
from gateway.channels.base import BadRequest, LookupUnsupported, OutgoingSms, TransportError
from gateway.config import DEV_AT_API_KEY, DEV_AT_USERNAME

# --- parsing ------------------------------------------------------------------------------------

INBOUND = {
    "from": "+254711000001",
    "to": "20384",
    "text": "kura\r\n1\x07",
    "date": "2025-05-01 10:00:00",
    "id": "3f2b6c1e-8d3a-4b7e-9a51-2c1d4e5f6a7b",
    "linkId": "a1b2c3",
    "networkCode": "63902",
}


def test_parse_inbound_sms() -> None:
    sms = at.parse_inbound_sms(INBOUND)

    assert (sms.provider, sms.provider_id, sms.sender, sms.to, sms.link_id) == (
        "africastalking", INBOUND["id"], "+254711000001", "20384", "a1b2c3"
    )
    assert sms.text == "kura\r\n1 "  # newlines kept, other control characters blanked


def test_a_number_without_plus_is_normalised() -> None:
    assert at.parse_inbound_sms({**INBOUND, "from": "254711000001"}).sender == "+254711000001"


def test_a_long_text_is_not_refused_by_the_parser() -> None:
    """Truncation (and recording it) is the inbound handler's job, not a 400."""
    assert len(at.parse_inbound_sms({**INBOUND, "text": "x" * 5000}).text) == 5000


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": ""}, "empty id"),
        ({"id": None}, "missing id"),
        ({"id": "a b"}, "id has invalid characters"),
        ({"from": ""}, "missing from"),
        ({"from": "Safaricom"}, "from is not a valid phone number"),
        ({"to": None}, "missing to"),
        ({"linkId": "x" * 129}, "linkId longer than 128 characters"),
    ],
)
def test_bad_inbound_sms_is_refused_with_a_reason(
    change: dict[str, str | None], reason: str
) -> None:
    form = {k: v for k, v in {**INBOUND, **change}.items() if v is not None}

    with pytest.raises(BadRequest) as refused:
        at.parse_inbound_sms(form)

    assert refused.value.reason == reason and refused.value.status == 400


@pytest.mark.parametrize(
    ("status", "ours"),
    [("Sent", "sent"), ("Submitted", "sent"), ("Buffered", "sent"), ("Success", "delivered"),
     ("Rejected", "failed"), ("Failed", "failed")],
)  # fmt: skip
def test_delivery_reports_map_through_the_table(status: str, ours: str) -> None:
    form = {"id": "ATXid_1", "status": status, "phoneNumber": "+254711000001"}
    if ours == "failed":
        form["failureReason"] = "UserInBlackList"

    report = at.parse_delivery(form)

    assert (report.provider_id, report.status, report.provider_status) == ("ATXid_1", ours, status)
    assert report.reason == ("UserInBlackList" if ours == "failed" else "")


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"id": "ATXid_1"}, "missing status"),
        ({"id": "ATXid_1", "status": "Lost"}, "unknown status 'Lost'"),
        ({"status": "Success"}, "missing id"),
        ({"id": "ATXid_1", "status": "Success", "failureReason": "x" * 129},
         "failureReason longer than 128 characters"),
    ],
)  # fmt: skip
def test_bad_delivery_reports_are_refused(form: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        at.parse_delivery(form)


# --- the classification table -------------------------------------------------------------------

EXPECTED_OUTCOMES = {
    100: "accepted", 101: "accepted", 102: "accepted",
    401: "permanent", 402: "permanent", 403: "permanent", 404: "permanent",
    405: "transient", 406: "permanent", 407: "transient", 409: "permanent",
    500: "transient", 501: "transient", 502: "permanent",
}  # fmt: skip


def test_the_table_covers_every_documented_status_code() -> None:
    assert {code: outcome for code, (_, outcome) in at.RECIPIENT_STATUSES.items()} == (
        EXPECTED_OUTCOMES
    )


def recipient(code: int, number: str, message_id: str = "None") -> dict[str, object]:
    name = at.RECIPIENT_STATUSES.get(code, ("Mystery", ""))[0]
    return {"statusCode": code, "number": number, "status": name, "cost": "0",
            "messageId": message_id}  # fmt: skip


def at_answer(*recipients: dict[str, object]) -> tuple[int, dict[str, object]]:
    return 201, {"SMSMessageData": {"Message": "Sent", "Recipients": list(recipients)}}


@pytest.mark.parametrize("code", sorted(EXPECTED_OUTCOMES))
def test_each_recipient_status_code_is_classified(tmp_path: Path, code: int) -> None:
    number = "+254711000001"
    message_id = "ATXid_x" if EXPECTED_OUTCOMES[code] == "accepted" else "None"
    with canned(at_answer(recipient(code, number, message_id))) as (_, url):
        settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL=url)
        [result] = at.send_sms(settings, [OutgoingSms(1, number, "Habari")])

    outcome = EXPECTED_OUTCOMES[code]
    if outcome == "accepted":
        assert (result.status, result.provider_id) == ("sent", "ATXid_x")
    else:
        name = at.RECIPIENT_STATUSES[code][0]
        assert result.reason == f"{code} {name}" and result.provider_id is None
        assert (result.status, result.permanent) == (
            ("failed", True) if outcome == "permanent" else ("retry", False)
        )


def test_an_unknown_status_code_fails_without_a_resend() -> None:
    result = at._recipient_result(OutgoingSms(1, "+254711000001", "x"), recipient(418, "+1"))

    assert (result.status, result.permanent, result.reason) == ("failed", True, "418 Mystery")


# --- sending ------------------------------------------------------------------------------------


def sms(message_id: int, to: str, text: str = "Asante kwa kura yako") -> OutgoingSms:
    return OutgoingSms(message_id, to, text)


def numbers(count: int) -> list[str]:
    return [f"+2547110000{n:02d}" for n in range(count)]


def test_the_sdk_is_pointed_at_api_url_version1(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path)

    service = at.sms_service(settings)

    assert service._baseUrl == "http://127.0.0.1:8001/version1"
    assert (settings.at_username, settings.at_api_key) == (DEV_AT_USERNAME, DEV_AT_API_KEY)


def test_without_api_url_the_sdk_talks_to_africas_talking(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, AT_USERNAME="civic", AT_API_KEY="k" * 20)

    assert at.sms_service(settings)._baseUrl == "https://api.africastalking.com/version1"


def test_send_through_the_emulator_batches_the_same_text(tmp_path: Path) -> None:
    to = numbers(3)
    messages = [sms(1, to[0]), sms(2, to[1]), sms(3, to[2], "Other text"), sms(4, to[2])]

    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        results = at.send_sms(emulator.settings, messages)
        recorded = emulator.client.messages(provider="africastalking")

    assert [(r.message_id, r.status) for r in results] == [(i, "sent") for i in (1, 2, 3, 4)]
    assert len({r.provider_id for r in results}) == 4
    assert sorted((m["to"], m["text"]) for m in recorded) == sorted(
        (m.to, m.text) for m in messages
    )
    assert {m["id"] for m in recorded} == {r.provider_id for r in results}


def test_one_call_per_text_and_sender_each_number_once_per_call(tmp_path: Path) -> None:
    to = numbers(2)
    messages = [sms(1, to[0]), sms(2, to[1]), sms(3, to[0]), sms(4, to[0], "Other")]
    answers = [
        at_answer(recipient(101, to[0], "ATXid_a"), recipient(101, to[1], "ATXid_b")),
        at_answer(recipient(101, to[0], "ATXid_c")),
        at_answer(recipient(101, to[0], "ATXid_d")),
    ]

    with canned(*answers) as (provider, url):
        settings = sms_settings(
            tmp_path, GATEWAY_AFRICASTALKING_API_URL=url, GATEWAY_AFRICASTALKING_SENDER_ID="CIVIC"
        )
        results = at.send_sms(settings, messages)

    assert [(call["to"], call["message"]) for call in provider.calls] == [
        (f"{to[0]},{to[1]}", "Asante kwa kura yako"),
        (to[0], "Asante kwa kura yako"),  # the same number twice goes in a second call
        (to[0], "Other"),
    ]
    assert {call["from"] for call in provider.calls} == {"CIVIC"}
    assert {call["username"] for call in provider.calls} == {DEV_AT_USERNAME}
    assert [r.provider_id for r in results] == ["ATXid_a", "ATXid_b", "ATXid_c", "ATXid_d"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("invalid", "403 InvalidPhoneNumber"),
        ("blacklist", "406 UserInBlacklist"),
        ("optout", "409 DoNotDisturbRejection"),
    ],
)
def test_per_recipient_failures_in_one_batch(tmp_path: Path, kind: str, reason: str) -> None:
    to = numbers(3)

    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault(kind, provider="africastalking", to=to[1])
        results = at.send_sms(emulator.settings, [sms(i, n) for i, n in enumerate(to)])
        recorded = emulator.client.messages()

    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert (results[1].reason, results[1].permanent) == (reason, True)
    assert sorted(m["to"] for m in recorded) == [to[0], to[2]]


def test_a_number_the_sdk_would_reject_fails_alone_without_a_call(tmp_path: Path) -> None:
    with canned(at_answer(recipient(101, "+254711000001", "ATXid_a"))) as (provider, url):
        settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL=url)
        results = at.send_sms(
            settings, [sms(1, "0711000002"), sms(2, "+254711000001")]
        )

    assert [(r.status, r.permanent) for r in results] == [("failed", True), ("sent", False)]
    assert results[0].reason == "not an international phone number"
    assert [call["to"] for call in provider.calls] == ["+254711000001"]


@pytest.mark.parametrize(("kind", "reason"), [("429", "HTTP 429"), ("500", "HTTP 500")])
def test_call_faults_are_transient_transport_errors(
    tmp_path: Path, kind: str, reason: str
) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        emulator.client.fault(kind, provider="africastalking")
        with pytest.raises(TransportError) as raised:
            at.send_sms(emulator.settings, [sms(1, "+254711000001")])
        [after] = at.send_sms(emulator.settings, [sms(1, "+254711000001")])
        recorded = emulator.client.messages()

    assert raised.value.reason.startswith(reason)
    assert not raised.value.permanent and not raised.value.maybe_sent
    assert after.status == "sent" and len(recorded) == 1


def test_a_slow_answer_times_out_as_transient_and_may_have_been_sent(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_TIMEOUT_SECONDS="0.3")

    with emulated(settings, tmp_path) as emulator:
        emulator.client.fault("slow", provider="africastalking", seconds=1)
        with pytest.raises(TransportError) as raised:
            at.send_sms(emulator.settings, [sms(1, "+254711000001")])
        recorded = wait_for(lambda: emulator.client.messages())

    assert raised.value.reason.startswith("timeout") and not raised.value.permanent
    assert raised.value.maybe_sent
    assert [m["to"] for m in recorded] == ["+254711000001"]


def test_wrong_credentials_are_a_transient_401(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path, at_api_key="another-key") as emulator:
        with pytest.raises(TransportError) as raised:
            at.send_sms(emulator.settings, [sms(1, "+254711000001")])

    assert raised.value.reason == "HTTP 401: The supplied authentication is invalid"
    assert not raised.value.permanent


def test_an_unreachable_api_is_a_transient_error(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL="http://127.0.0.1:9")

    with pytest.raises(TransportError) as raised:
        at.send_sms(settings, [sms(1, "+254711000001")])

    assert raised.value.reason.startswith("connection failed") and not raised.value.permanent


@pytest.mark.parametrize(
    ("answer", "permanent", "reason"),
    [
        ((400, "Invalid request"), True, "HTTP 400: Invalid request"),
        ((503, "<html>unavailable</html>"), False, "HTTP 503"),
        ((201, {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}), True,
         "refused: InvalidSenderId"),
        ((201, {"SMSMessageData": {"Message": "InsufficientBalance", "Recipients": []}}), False,
         "refused: InsufficientBalance"),
        ((200, "not json"), False, "unexpected answer"),
    ],
)  # fmt: skip
def test_whole_call_answers_are_classified(
    tmp_path: Path, answer: tuple[int, object], permanent: bool, reason: str
) -> None:
    with canned(answer) as (_, url):
        settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL=url)
        with pytest.raises(TransportError) as raised:
            at.send_sms(settings, [sms(1, "+254711000001")])

    assert raised.value.permanent is permanent and raised.value.reason.startswith(reason)


def test_a_failure_after_an_accepted_call_returns_results_instead_of_raising(
    tmp_path: Path,
) -> None:
    answers = [at_answer(recipient(101, "+254711000001", "ATXid_a")), (500, "oops")]
    messages = [sms(1, "+254711000001", "one"), sms(2, "+254711000001", "two"),
                sms(3, "+254711000001", "three")]  # fmt: skip

    with canned(*answers) as (provider, url):
        settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL=url)
        results = at.send_sms(settings, messages)

    assert [(r.status, r.provider_id) for r in results] == [
        ("sent", "ATXid_a"), ("retry", None), ("retry", None)
    ]
    assert results[1].reason == "HTTP 500: oops"
    assert results[2].reason == "not tried after: HTTP 500: oops"
    assert len(provider.calls) == 2


def test_a_recipient_missing_from_the_answer_may_have_been_sent(tmp_path: Path) -> None:
    answer = at_answer(recipient(101, "+254711000001", "ATXid_a"))
    with canned(answer) as (_, url):
        settings = sms_settings(tmp_path, GATEWAY_AFRICASTALKING_API_URL=url)
        results = at.send_sms(settings, [sms(1, "+254711000001"), sms(2, "+254711000002")])

    assert (results[1].status, results[1].maybe_sent) == ("retry", True)


def test_lookup_is_not_something_africas_talking_can_do(tmp_path: Path) -> None:
    with pytest.raises(LookupUnsupported):
        at.lookup(sms_settings(tmp_path), sms(1, "+254711000001"), datetime.now(UTC))


def wait_for(read: Callable[[], list[dict]], timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not (value := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value
