"""The emulator plays a citizen: SMS and USSD hops, to a stand-in and to the real gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from emulator_support import emulated, receiving, sms_settings

from gateway.app import create_app
from gateway.channels import africastalking as at
from gateway.channels import twilio
from gateway.config import DEV_TWILIO_AUTH_TOKEN, EMULATOR_TWILIO_NUMBER, Settings
from gateway.emulator.client import EmulatorError
from gateway.emulator.server import serve_in_thread

PHONE = "+254711000042"


def test_an_africas_talking_sms_reaches_the_gateway_in_ats_form(tmp_path: Path) -> None:
    with receiving("") as (receiver, url):
        with emulated(sms_settings(tmp_path), tmp_path, gateway_url=url) as emulator:
            answer = emulator.client.sms("POLL", sender=PHONE)

    [post] = receiver.posts
    sms = at.parse_inbound_sms(post.form)
    assert (post.path, post.query) == ("/sms/africastalking", "")
    assert (sms.sender, sms.to, sms.text, sms.provider_id) == (PHONE, "20384", "POLL", answer.id)
    assert set(post.form) == {"from", "to", "text", "date", "id", "linkId", "networkCode"}
    assert answer.status == 200


def test_a_twilio_sms_reaches_the_gateway_signed(tmp_path: Path) -> None:
    with receiving("<Response/>") as (receiver, url):
        with emulated(sms_settings(tmp_path), tmp_path, gateway_url=url) as emulator:
            answer = emulator.client.sms("Kura", sender=PHONE, provider="twilio")

    [post] = receiver.posts
    sms = twilio.parse_inbound_sms(post.form)
    assert post.path == "/sms/twilio"
    assert twilio.verify_signature(
        post.url, post.form, post.headers["x-twilio-signature"], DEV_TWILIO_AUTH_TOKEN
    )
    assert (sms.sender, sms.to, sms.text, sms.provider_id) == (
        PHONE, EMULATOR_TWILIO_NUMBER, "Kura", answer.id
    )
    assert (answer.status, answer.body) == (200, "<Response/>")


def test_behind_a_public_url_twilio_signs_the_public_url(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, GATEWAY_PUBLIC_URL="https://sms.example.org")
    with receiving() as (receiver, url):
        with emulated(settings, tmp_path, gateway_url=url) as emulator:
            emulator.client.sms("Kura", sender=PHONE, provider="twilio")

    [post] = receiver.posts
    signature = post.headers["x-twilio-signature"]
    signed = twilio.signed_url("https://sms.example.org", post.url)
    assert signed == "https://sms.example.org/sms/twilio"
    assert twilio.verify_signature(signed, post.form, signature, DEV_TWILIO_AUTH_TOKEN)
    assert not twilio.verify_signature(post.url, post.form, signature, DEV_TWILIO_AUTH_TOKEN)


def test_a_repeated_id_plays_a_provider_retry(tmp_path: Path) -> None:
    with receiving() as (receiver, url):
        with emulated(sms_settings(tmp_path), tmp_path, gateway_url=url) as emulator:
            emulator.client.sms("1", sender=PHONE, to="20880", message_id="ATid-1")
            emulator.client.sms("1", sender=PHONE, to="20880", message_id="ATid-1")

    assert [(p.form["id"], p.form["to"]) for p in receiver.posts] == [("ATid-1", "20880")] * 2


def test_a_ussd_hop_returns_the_gateways_screen(tmp_path: Path) -> None:
    with receiving("CON Welcome\n1. Yes") as (receiver, url):
        with emulated(sms_settings(tmp_path), tmp_path, gateway_url=url) as emulator:
            answer = emulator.client.ussd("1*2", phone=PHONE, code="*384*1#", session="S1")

    [post] = receiver.posts
    hop = at.parse_ussd_hop(post.form)
    assert (hop.session_id, hop.service_code, hop.phone, hop.text) == (
        "S1", "*384*1#", PHONE, "1*2"
    )
    assert (answer.status, answer.body, answer.id) == (200, "CON Welcome\n1. Yes", "S1")


def test_an_unreachable_gateway_is_a_502(tmp_path: Path) -> None:
    with emulated(sms_settings(tmp_path), tmp_path, gateway_url="http://127.0.0.1:9") as emulator:
        with pytest.raises(EmulatorError, match="502"):
            emulator.client.sms("POLL", sender=PHONE)


@pytest.mark.parametrize(
    "body",
    [{"provider": "sms-o-matic", "from": PHONE, "text": "x"}, {"text": "x"},
     {"provider": "twilio", "from": PHONE, "text": 5}],
)  # fmt: skip
def test_bad_citizen_requests_are_refused(tmp_path: Path, body: dict) -> None:
    with emulated(sms_settings(tmp_path), tmp_path) as emulator:
        response = emulator.client._http.post("/emulator/sms", json=body)

    assert response.status_code == 400 and "error" in response.json()


# --- against the real gateway -------------------------------------------------------------------


@pytest.fixture
def gateway_url(settings: Settings, redis_sync: redis.Redis) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as url:
        yield url


def test_a_citizen_dials_the_real_gateway(
    settings: Settings, gateway_url: str, tmp_path: Path
) -> None:
    with emulated(settings, tmp_path, gateway_url=gateway_url) as emulator:
        first = emulator.client.ussd("", phone=PHONE, code="*384*1#", session="real-1")
        again = emulator.client.ussd("", phone=PHONE, code="*384*1#", session="real-1")

    assert first.status == 200 and first.body.startswith("CON ")
    assert again.body == first.body  # a replayed hop gets the same screen


@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_citizen_texts_the_real_gateway(
    settings: Settings, gateway_url: str, tmp_path: Path, provider: str
) -> None:
    with emulated(settings, tmp_path, gateway_url=gateway_url) as emulator:
        answer = emulator.client.sms("POLL", sender=PHONE, provider=provider)
        duplicate = emulator.client.sms(
            "POLL", sender=PHONE, provider=provider, message_id=answer.id
        )

    assert answer.status == 200, answer.body
    assert duplicate.status == 200, duplicate.body
