"""A duplicate storm: the same inbound SMS and the same delivery report, ten times each, all at
once, through the real endpoints of a running `gateway web`, on both providers.

Providers retry, and a retry can overlap the original. Each message must still be processed
exactly once: one conversation step (one inbound row, one reply queued with one send job, the
citizen's SMS run advanced once), and each delivery report one status change. Every copy is
acknowledged with a 200, so the provider stops retrying.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from outbox_support import make_message
from sms_support import at_form, next_id, twilio_form
from sqlmodel import Session, select
from ussd_support import fresh_phone

from gateway.channels import twilio
from gateway.config import load_settings
from gateway.models import InboundMessage, OutboundMessage
from gateway.phone import pseudonym
from gateway.sms import sessions

from .conftest import fault_environ

pytestmark = [pytest.mark.fault, pytest.mark.slow]

COPIES = 10


def test_ten_copies_at_once_are_processed_once(
    processes, private_redis, database_url, db_engine, tmp_path,
):
    server = private_redis()
    env = fault_environ(redis_url=server.url, database_url=database_url, tmp_path=tmp_path)
    settings = load_settings(env)
    web = processes.web(env)  # no worker: the send jobs stay in Redis, to be counted
    token = settings.twilio_auth_token

    texters = {"africastalking": fresh_phone(), "twilio": fresh_phone()}
    sent = {provider: make_message(db_engine, settings, number=fresh_phone(), provider=provider,
                                   kind="bulk", status="sent",
                                   provider_id=next_id("ATXid_" if provider == "africastalking"
                                                       else "SM"))
            for provider in texters}
    at_sms = at_form(texters["africastalking"], "POLL")
    twilio_sms = twilio_form(texters["twilio"], "VOTE")
    at_report = {"id": sent["africastalking"].provider_id, "status": "Success",
                 "phoneNumber": fresh_phone(), "networkCode": "63902", "failureReason": "",
                 "retryCount": "0"}
    twilio_report = {"MessageSid": sent["twilio"].provider_id, "MessageStatus": "delivered",
                     "AccountSid": twilio_sms["AccountSid"], "To": fresh_phone()}
    storm = [
        ("/sms/africastalking", at_sms, {}),
        ("/sms/twilio", twilio_sms, signed(web.url + "/sms/twilio", twilio_sms, token)),
        ("/sms/africastalking/delivery", at_report, {}),
        ("/sms/twilio/status", twilio_report,
         signed(web.url + "/sms/twilio/status", twilio_report, token)),
    ] * COPIES

    answers = all_at_once(web.url, storm)

    assert answers == [200] * len(storm)
    redis_client = server.client()
    with Session(db_engine) as session:
        inbound = session.exec(select(InboundMessage)).all()
        replies = session.exec(select(OutboundMessage).where(
            OutboundMessage.kind == "reply")).all()
        delivered = [session.get(OutboundMessage, m.id).status for m in sent.values()]
    jobs = {job.decode() for job in redis_client.lrange("rq:queue:high", 0, -1)}
    contacts = {pseudonym(phone, settings.secret_key): provider
                for provider, phone in texters.items()}
    steps = {provider: sessions.load_sync(redis_client, contact).run
             for contact, provider in contacts.items()}
    figures = {
        "copies": len(storm),
        "inbound_rows": len(inbound),
        "replies": len(replies),
        "send_jobs": len(jobs),
        "runs_started": sum(1 for run in steps.values() if run is not None),
        "sms_processed": web.metric("gateway_sms_inbound", outcome="processed"),
        "sms_duplicates": web.metric("gateway_sms_inbound", outcome="duplicate"),
        "status_changes": web.metric("gateway_delivery_reports", outcome="applied"),
        "status_unchanged": web.metric("gateway_delivery_reports", outcome="unchanged"),
    }
    print("\nduplicate storm: " + " ".join(f"{name}={value:g}" for name, value in figures.items()))

    # One inbound row per provider id, one reply per citizen, each with one send job.
    assert sorted(m.provider_id for m in inbound) == sorted(
        [at_sms["id"], twilio_sms["MessageSid"]])
    assert sorted(contacts[m.contact_pseudonym] for m in replies) == sorted(texters)
    assert jobs == {f"sms-{m.id}" for m in replies}
    # Each citizen's SMS run took one step: it waits at its first question.
    assert all(run is not None and run.hops == 1 for run in steps.values()), steps
    assert (figures["sms_processed"], figures["sms_duplicates"]) == (2, 2 * (COPIES - 1))
    # Each delivery report moved its message once; the other nine changed nothing.
    assert delivered == ["delivered", "delivered"]
    assert (figures["status_changes"], figures["status_unchanged"]) == (2, 2 * (COPIES - 1))


def all_at_once(base_url: str, posts: list[tuple[str, dict, dict]]) -> list[int]:
    """Every post on its own connection, released together; the status codes, in order."""
    start = threading.Barrier(len(posts))

    def post(item: tuple[str, dict, dict]) -> int:
        path, form, headers = item
        with httpx.Client(base_url=base_url, timeout=10) as client:
            client.get("/healthz")  # connected before the barrier: the posts leave together
            start.wait()
            return client.post(path, data=form, headers=headers).status_code

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(post, posts))


def signed(url: str, form: dict[str, str], token: str) -> dict[str, str]:
    return {twilio.SIGNATURE_HEADER: twilio.sign(url, form, token)}
