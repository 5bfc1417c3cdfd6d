"""Both providers, both ways: a citizen texts through the emulator, the gateway (served over HTTP)
answers through the outbox, RQ's worker sends with the real SDKs, the emulator records the
reply and reports its delivery back to the gateway.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from outbox_support import outbox_environ
from rq import SimpleWorker
from sqlmodel import Session, select

from gateway import outbox
from gateway.app import create_app
from gateway.db import make_engine
from gateway.emulator.client import EmulatorClient
from gateway.emulator.server import running, serve_in_thread
from gateway.emulator.state import EmulatorConfig
from gateway.models import InboundMessage, OutboundMessage

PHONE = "+254711000077"
QUEUES = ["high", "default", "low"]


def work(redis_sync) -> None:
    """Run the queued send jobs here: a forked work horse would inherit this test's server
    threads (a hazard of the test, not of `gateway worker`, which runs none)."""
    outbox._sender_for_process.cache_clear()  # built from this test's environment
    try:
        SimpleWorker(QUEUES, connection=redis_sync).work(burst=True)
    finally:
        outbox._sender_for_process.cache_clear()


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["africastalking", "twilio"])
def test_a_citizen_texts_and_the_replies_come_back_delivered(
    settings, redis_url, redis_sync, tmp_path: Path, monkeypatch, provider
):
    engine = make_engine(settings.database_url)

    def outbound() -> list[OutboundMessage]:
        with Session(engine) as session:
            return list(session.exec(select(OutboundMessage).order_by(OutboundMessage.id)))

    with serve_in_thread(create_app(settings)) as gateway_url:
        config = EmulatorConfig.from_settings(
            settings, gateway_url=gateway_url, messages_path=tmp_path / "sent.jsonl",
            deliver_reports=True, report_delay_seconds=0.05)
        with running(config) as emulator_url, EmulatorClient(emulator_url) as emulator:
            environ = outbox_environ(redis_url=redis_url, database_url=settings.database_url,
                                     var_dir=tmp_path / "var", emulator_url=emulator_url)
            for key, value in environ.items():
                monkeypatch.setenv(key, value)  # the worker's jobs read their settings from here

            assert emulator.sms("POLL", sender=PHONE, provider=provider).status == 200
            work(redis_sync)
            for _ in range(2):  # the provider retries the answer: processed once
                answer = emulator.sms("1", sender=PHONE, provider=provider, message_id="SMdup1")
                assert answer.status == 200
            work(redis_sync)

            texts = [m["text"] for m in emulator.messages(to=PHONE)]
            delivered = wait_for(lambda: all(m.status == "delivered" for m in outbound()))
    try:
        assert [t.split("\n")[0] for t in texts] == [
            "Which project should your ward fund first?", "How old are you?"]
        assert delivered, [(m.status, m.failure_reason) for m in outbound()]
        assert [(m.provider, m.kind) for m in outbound()] == [(provider, "reply")] * 2
        with Session(engine) as session:
            assert len(session.exec(select(InboundMessage)).all()) == 2
    finally:
        engine.dispose()
