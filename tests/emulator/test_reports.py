"""Delivery reports fired back at a throwaway gateway stand-in, as each provider posts them."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path

from emulator_support import Emulated, Receiver, emulated, receiving, sms_settings

from gateway.channels import africastalking as at
from gateway.channels import twilio
from gateway.channels.base import OutgoingSms
from gateway.config import DEV_TWILIO_AUTH_TOKEN

NUMBER = "+254711000001"


def wait_for_posts(receiver: Receiver, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.posts) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.posts) >= count, f"{len(receiver.posts)} of {count} reports arrived"


def reporting(
    tmp_path: Path, gateway_url: str, **env: str
) -> AbstractContextManager[Emulated]:
    return emulated(
        sms_settings(tmp_path, **env),
        tmp_path,
        gateway_url=gateway_url,
        deliver_reports=True,
        report_delay_seconds=0.02,
    )


def test_africas_talking_reports_sent_then_success(tmp_path: Path) -> None:
    with receiving() as (receiver, url), reporting(tmp_path, url) as emulator:
        [result] = at.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
        wait_for_posts(receiver, 2)
        [recorded] = emulator.client.messages()

    reports = [at.parse_delivery(p.form) for p in receiver.at("/sms/africastalking/delivery")]
    assert [(r.provider_id, r.provider_status, r.status) for r in reports] == [
        (result.provider_id, "Sent", "sent"),
        (result.provider_id, "Success", "delivered"),
    ]
    assert receiver.posts[0].form["phoneNumber"] == NUMBER
    assert recorded["status"] == "Success"


def test_africas_talking_reports_carry_the_webhook_token(tmp_path: Path) -> None:
    with receiving() as (receiver, url), reporting(
        tmp_path, url, GATEWAY_SMS_WEBHOOK_TOKEN="t0ken&more"
    ) as emulator:
        at.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
        wait_for_posts(receiver, 2)

    assert {p.query for p in receiver.posts} == {"token=t0ken%26more"}


def test_an_undelivered_message_reports_failed_with_a_reason(tmp_path: Path) -> None:
    with receiving() as (receiver, url), reporting(tmp_path, url) as emulator:
        emulator.client.fault("undelivered", count=2)
        at.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
        twilio.send_sms(emulator.settings, [OutgoingSms(2, NUMBER, "Habari")])
        at.send_sms(emulator.settings, [OutgoingSms(3, NUMBER, "Habari")])
        wait_for_posts(receiver, 6)

    [at_failed] = [at.parse_delivery(p.form) for p in receiver.posts
                   if p.form.get("status") == "Failed"]  # fmt: skip
    [twilio_failed] = [twilio.parse_status(p.form) for p in receiver.posts
                       if p.form.get("MessageStatus") == "undelivered"]  # fmt: skip
    assert (at_failed.status, at_failed.reason) == ("failed", "DeliveryFailure")
    assert (twilio_failed.status, twilio_failed.error_code) == ("failed", "30003")
    delivered = [p for p in receiver.posts if p.form.get("status") == "Success"]
    assert len(delivered) == 1  # the third send came after the fault was used up


def test_twilio_status_callbacks_are_signed_and_parse(tmp_path: Path) -> None:
    with receiving() as (receiver, url), reporting(tmp_path, url) as emulator:
        [result] = twilio.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
        wait_for_posts(receiver, 2)

    posts = receiver.at("/sms/twilio/status")
    for post in posts:
        signature = post.headers["x-twilio-signature"]
        assert twilio.verify_signature(post.url, post.form, signature, DEV_TWILIO_AUTH_TOKEN)
        assert not twilio.verify_signature(
            post.url, {**post.form, "MessageStatus": "failed"}, signature, DEV_TWILIO_AUTH_TOKEN
        )
    reports = [twilio.parse_status(p.form) for p in posts]
    assert [(r.provider_id, r.provider_status, r.status) for r in reports] == [
        (result.provider_id, "sent", "sent"),
        (result.provider_id, "delivered", "delivered"),
    ]


def test_twilio_posts_to_the_status_callback_given_in_the_send(tmp_path: Path) -> None:
    """With GATEWAY_PUBLIC_URL set, the send names its StatusCallback; Twilio signs that URL."""
    with receiving() as (receiver, public), receiving() as (elsewhere, url):
        with reporting(tmp_path, url, GATEWAY_PUBLIC_URL=public) as emulator:
            twilio.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
            wait_for_posts(receiver, 2)

    assert elsewhere.posts == []
    post = receiver.posts[0]
    assert post.url == public + "/sms/twilio/status"
    signed = twilio.signed_url(public, post.url)
    assert twilio.verify_signature(
        signed, post.form, post.headers["x-twilio-signature"], DEV_TWILIO_AUTH_TOKEN
    )


def test_no_reports_when_they_are_turned_off(tmp_path: Path) -> None:
    with receiving() as (receiver, url):
        with emulated(sms_settings(tmp_path), tmp_path, gateway_url=url) as emulator:
            at.send_sms(emulator.settings, [OutgoingSms(1, NUMBER, "Habari")])
            time.sleep(0.3)

    assert receiver.posts == []
