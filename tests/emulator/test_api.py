"""The emulator answers like the providers: shapes, authentication, validation, listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from emulator_support import Emulated, emulated, sms_settings

from gateway.config import (
    DEV_AT_API_KEY,
    DEV_AT_USERNAME,
    DEV_TWILIO_ACCOUNT_SID,
    DEV_TWILIO_AUTH_TOKEN,
)
from gateway.emulator.store import read_messages

SID = DEV_TWILIO_ACCOUNT_SID
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulated]:
    with emulated(sms_settings(tmp_path), tmp_path) as running:
        yield running


def at_post(emulator: Emulated, form: dict[str, str], key: str = DEV_AT_API_KEY) -> httpx.Response:
    return httpx.post(
        emulator.url + "/version1/messaging",
        data=form,
        headers={"apiKey": key, "Accept": "application/json"},
    )


def twilio_post(
    emulator: Emulated, form: dict[str, str], token: str = DEV_TWILIO_AUTH_TOKEN
) -> httpx.Response:
    return httpx.post(emulator.url + MESSAGES, data=form, auth=(SID, token))


def test_an_at_send_answers_201_in_africas_talking_shape(emulator: Emulated) -> None:
    form = {"username": DEV_AT_USERNAME, "to": "+254711000001,+254711000002",
            "message": "Habari", "from": "CIVIC", "bulkSMSMode": "1"}  # fmt: skip

    response = at_post(emulator, form)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"  # the SDK checks it exactly
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 2/2 Total Cost: KES 1.6000"
    assert [(r["statusCode"], r["number"], r["status"], r["cost"]) for r in data["Recipients"]] == [
        (101, "+254711000001", "Success", "KES 0.8000"),
        (101, "+254711000002", "Success", "KES 0.8000"),
    ]
    assert all(r["messageId"].startswith("ATXid_") for r in data["Recipients"])


def test_an_at_send_refuses_a_malformed_number_per_recipient(emulator: Emulated) -> None:
    form = {"username": DEV_AT_USERNAME, "to": "+254711000001,12345", "message": "Hi"}

    data = at_post(emulator, form).json()["SMSMessageData"]

    assert data["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
    assert data["Recipients"][1] == {
        "statusCode": 403, "number": "12345", "status": "InvalidPhoneNumber", "cost": "0",
        "messageId": "None",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("form", "key", "status", "text"),
    [
        ({"username": DEV_AT_USERNAME, "to": "+254711000001", "message": "x"}, "wrong", 401,
         "The supplied authentication is invalid"),
        ({"username": "someone", "to": "+254711000001", "message": "x"}, DEV_AT_API_KEY, 401,
         "The supplied authentication is invalid"),
        ({"username": DEV_AT_USERNAME, "message": "x"}, DEV_AT_API_KEY, 400,
         "Request is missing required form field 'to'"),
        ({"username": DEV_AT_USERNAME, "to": "+254711000001"}, DEV_AT_API_KEY, 400,
         "Request is missing required form field 'message'"),
    ],
)  # fmt: skip
def test_at_refusals(
    emulator: Emulated, form: dict[str, str], key: str, status: int, text: str
) -> None:
    response = at_post(emulator, form, key)

    assert (response.status_code, response.text) == (status, text)
    assert emulator.client.messages() == []


def test_a_twilio_send_answers_201_with_the_message_resource(emulator: Emulated) -> None:
    form = {"To": "+254711000001", "From": "+15005550006", "Body": "Habari",
            "StatusCallback": "https://example.org/status"}  # fmt: skip

    response = twilio_post(emulator, form)

    assert response.status_code == 201
    message = response.json()
    sid = message["sid"]
    assert sid.startswith("SM") and len(sid) == 34
    assert {k: message[k] for k in ("to", "from", "body", "status", "num_segments",
                                     "direction", "error_code", "account_sid")} == {
        "to": "+254711000001", "from": "+15005550006", "body": "Habari", "status": "queued",
        "num_segments": "1", "direction": "outbound-api", "error_code": None, "account_sid": SID,
    }  # fmt: skip
    assert message["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json"
    assert message["date_created"].endswith("+0000")


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": "+15005550006", "Body": "x"}, 21604),
        ({"To": "+254711000001", "Body": "x"}, 21603),
        ({"To": "+254711000001", "From": "+15005550006"}, 21602),
        ({"To": "0711000001", "From": "+15005550006", "Body": "x"}, 21211),
        ({"To": "+254711000001", "From": "+15005550006", "Body": "x" * 1601}, 21617),
    ],
)
def test_twilio_validation_errors_in_twilios_json_shape(
    emulator: Emulated, form: dict[str, str], code: int
) -> None:
    response = twilio_post(emulator, form)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["status"]) == (code, 400)
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_twilio_wrong_credentials_are_a_20003(emulator: Emulated) -> None:
    form = {"To": "+254711000001", "From": "+15005550006", "Body": "x"}

    wrong_token = twilio_post(emulator, form, token="nope")
    wrong_account = httpx.post(
        emulator.url + "/2010-04-01/Accounts/ACother/Messages.json",
        data=form,
        auth=(SID, DEV_TWILIO_AUTH_TOKEN),
    )

    for response in (wrong_token, wrong_account):
        assert response.status_code == 401 and response.json()["code"] == 20003


def test_twilio_fetch_and_list_filters(emulator: Emulated) -> None:
    first = twilio_post(emulator, {"To": "+254711000001", "From": "+15005550006", "Body": "a"})
    twilio_post(emulator, {"To": "+254711000002", "From": "+15005550006", "Body": "b"})
    sid = first.json()["sid"]
    auth = (SID, DEV_TWILIO_AUTH_TOKEN)

    fetched = httpx.get(f"{emulator.url}/2010-04-01/Accounts/{SID}/Messages/{sid}.json", auth=auth)
    missing = httpx.get(f"{emulator.url}/2010-04-01/Accounts/{SID}/Messages/SMx.json", auth=auth)
    listed = httpx.get(emulator.url + MESSAGES, params={"To": "+254711000001"}, auth=auth)
    future = httpx.get(emulator.url + MESSAGES, params={"DateSent>": "2999-01-01"}, auth=auth)
    today = httpx.get(emulator.url + MESSAGES, auth=auth)

    assert fetched.json()["body"] == "a" and missing.status_code == 404
    assert [m["sid"] for m in listed.json()["messages"]] == [sid]
    assert future.json()["messages"] == []
    assert [m["body"] for m in today.json()["messages"]] == ["b", "a"]  # newest first
    assert today.json()["next_page_uri"] is None


def test_messages_are_listed_filtered_and_reset(emulator: Emulated) -> None:
    at_post(emulator, {"username": DEV_AT_USERNAME, "to": "+254711000001", "message": "a"})
    twilio_post(emulator, {"To": "+254711000002", "From": "+15005550006", "Body": "b"})

    everything = emulator.client.messages()
    to_one = emulator.client.messages(to="+254711000001")
    twilio_only = emulator.client.messages(provider="twilio")
    deleted = emulator.client.clear()

    assert [(m["provider"], m["text"]) for m in everything] == [
        ("africastalking", "a"), ("twilio", "b")
    ]
    assert [m["text"] for m in to_one] == ["a"] and [m["text"] for m in twilio_only] == ["b"]
    assert deleted == 2 and emulator.client.messages() == []
    assert read_messages(emulator.messages_path) == []


def test_every_accepted_message_is_a_line_in_the_file(emulator: Emulated) -> None:
    at_post(emulator, {"username": DEV_AT_USERNAME, "to": "+254711000001", "message": "Ü"})
    twilio_post(emulator, {"To": "+254711000002", "From": "+15005550006", "Body": "b"})

    lines = emulator.messages_path.read_text(encoding="utf-8").splitlines()

    assert [json.loads(line)["text"] for line in lines] == ["Ü", "b"]
    assert set(json.loads(lines[0])) == {"provider", "id", "to", "sender", "text", "time",
                                         "segments"}  # fmt: skip


def test_a_1000_recipient_call_is_one_call_and_a_line_per_recipient(emulator: Emulated) -> None:
    numbers = [f"+2547{i:08d}" for i in range(1000)]
    form = {"username": DEV_AT_USERNAME, "to": ",".join(numbers), "message": "Dial *384*1#"}

    data = at_post(emulator, form).json()["SMSMessageData"]

    assert data["Message"] == "Sent to 1000/1000 Total Cost: KES 800.0000"
    lines = read_messages(emulator.messages_path)
    assert [line["to"] for line in lines] == numbers
    assert len({line["id"] for line in lines}) == 1000
    assert emulator.client.calls() == {"africastalking": 1, "twilio": 0}
    emulator.client.clear()
    assert emulator.client.calls() == {"africastalking": 0, "twilio": 0}


def test_a_restarted_emulator_remembers_what_it_accepted(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path)
    with emulated(settings, tmp_path) as first:
        twilio_post(first, {"To": "+254711000002", "From": "+15005550006", "Body": "b"})
    with emulated(settings, tmp_path) as second:
        remembered = second.client.messages()
        twilio_post(second, {"To": "+254711000002", "From": "+15005550006", "Body": "c"})

    assert [m["text"] for m in remembered] == ["b"]
    assert [m["text"] for m in read_messages(second.messages_path)] == ["b", "c"]


def test_read_messages_skips_a_half_written_line(tmp_path: Path) -> None:
    path = tmp_path / "sent.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b", "te', encoding="utf-8")

    assert read_messages(path) == [{"id": "a", "text": "x"}]
    assert read_messages(tmp_path / "absent.jsonl") == []
