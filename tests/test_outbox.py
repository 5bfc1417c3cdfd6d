"""The outbound queue against the real database, Redis, RQ's worker, the SDKs and the emulator."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from outbox_support import (
    add_contact,
    contact,
    fresh_number,
    jsonl,
    make_message,
    message,
    outbox_environ,
)
from rq import Queue, Worker
from sqlalchemy import Engine
from sqlmodel import Session, select

from gateway.config import Settings, load_settings
from gateway.emulator.client import EmulatorClient
from gateway.emulator.server import running
from gateway.emulator.state import EmulatorConfig
from gateway.models import OutboundMessage
from gateway.outbox import (
    NewMessage,
    RetryLater,
    Sender,
    bulk_job_size,
    enqueue_jobs,
    plan_jobs,
    queue_message,
    queue_messages,
    send,
    sweep_outbox,
)
from gateway.phone import pseudonym

QUEUES = ["high", "default", "low"]


@dataclass
class Outbox:
    settings: Settings
    engine: Engine
    redis: redis.Redis
    emulator: EmulatorClient
    sent_file: Path

    @property
    def sender(self) -> Sender:
        return Sender(self.settings, self.engine, self.redis)

    def queue(self, number: str | None = None, *, provider: str = "twilio",
              text: str = "Asante! Your answer was saved.", kind: str = "reply",
              **options: object) -> OutboundMessage:
        number = number or fresh_number()
        with Session(self.engine, expire_on_commit=False) as session:
            return queue_message(
                session, self.redis, self.settings,
                contact_pseudonym=pseudonym(number, self.settings.secret_key),
                number_e164=number, provider=provider, text=text, kind=kind,
                **options,  # type: ignore[arg-type]
            )

    def work(self) -> None:
        """RQ's own (forking) worker until the queues are empty; jobs read os.environ."""
        Worker(QUEUES, connection=self.redis).work(burst=True)

    def sent(self) -> list[dict]:
        return jsonl(self.sent_file)


@pytest.fixture
def outbox(db_engine, database_url, redis_url, redis_sync, tmp_path, monkeypatch,
           request) -> Outbox:
    overrides = getattr(request, "param", {})
    base = load_settings(outbox_environ(redis_url=redis_url, database_url=database_url,
                                        var_dir=tmp_path / "var", emulator_url="http://x"))
    sent_file = tmp_path / "emulator" / "sent.jsonl"
    config = EmulatorConfig.from_settings(base, messages_path=sent_file, deliver_reports=False)
    with running(config) as url:
        env = outbox_environ(redis_url=redis_url, database_url=database_url,
                             var_dir=tmp_path / "var", emulator_url=url, **overrides)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with EmulatorClient(url) as emulator:
            yield Outbox(load_settings(env), db_engine, redis_sync, emulator, sent_file)


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# --- queueing ----------------------------------------------------------------------------------


def test_the_row_is_committed_and_its_job_carries_its_id(outbox):
    reply = outbox.queue(provider="twilio")
    bulk = outbox.queue(provider="africastalking", kind="bulk", text="Vote: reply KURA")

    stored = message(outbox.engine, reply.id)
    assert (stored.status, stored.priority, stored.kind) == ("queued", "high", "reply")
    assert (stored.encoding, stored.segments, stored.cost_estimate) == ("GSM-7", 1, 0.0079)
    assert stored.number_encrypted and "+254" not in stored.number_encrypted
    assert Queue("high", connection=outbox.redis).job_ids == [f"sms-{reply.id}"]
    assert Queue("low", connection=outbox.redis).job_ids == [f"sms-{bulk.id}"]
    assert message(outbox.engine, bulk.id).cost_estimate == 0.8


def test_encoding_segments_and_cost_are_computed_on_the_prepared_text(outbox):
    curly = outbox.queue(provider="africastalking", text="“Habari” – it’s " + "x" * 150)
    stored = message(outbox.engine, curly.id)
    assert stored.text.startswith('"Habari" - it\'s ')  # transliterated: stays GSM-7
    assert (stored.encoding, stored.segments, stored.cost_estimate) == ("GSM-7", 2, 1.6)

    emoji = outbox.queue(provider="twilio", text="Asante 🙏")
    assert (message(outbox.engine, emoji.id).encoding,
            message(outbox.engine, emoji.id).segments) == ("UCS-2", 1)


def test_an_opted_out_contact_gets_only_notices(outbox):
    number = fresh_number()
    add_contact(outbox.engine, outbox.settings, number, opted_out=True)
    refused = outbox.queue(number, kind="bulk", text="New poll!")
    notice = outbox.queue(number, kind="notice", text="You will get no more messages.")

    assert (message(outbox.engine, refused.id).status,
            message(outbox.engine, refused.id).failure_reason) == ("failed", "opted out")
    assert message(outbox.engine, notice.id).status == "queued"
    assert Queue("low", connection=outbox.redis).job_ids == []
    assert Queue("high", connection=outbox.redis).job_ids == [f"sms-{notice.id}"]


def test_a_dedupe_key_queues_a_message_once(outbox):
    number = fresh_number()
    first = outbox.queue(number, kind="bulk", dedupe_key="invite:budget:1")
    again = outbox.queue(number, kind="bulk", dedupe_key="invite:budget:1")
    assert again.id == first.id
    assert Queue("low", connection=outbox.redis).count == 1


@pytest.mark.parametrize("outbox", [{"africastalking_per_second": 10_000, "batch_size": 100}],
                         indirect=True)
def test_bulk_goes_in_batch_jobs_of_batch_size(outbox):  # a throttle that does not cap them
    messages = [NewMessage(pseudonym(n, outbox.settings.secret_key), n, "africastalking",
                           "Budget poll: reply KURA") for n in (fresh_number() for _ in range(250))]
    with Session(outbox.engine) as session:
        queue_messages(session, outbox.redis, outbox.settings, messages)
    low = Queue("low", connection=outbox.redis)
    assert low.count == 3
    assert sorted(len(job.args[0]) for job in low.jobs) == [50, 100, 100]


def test_a_bulk_job_carries_at_most_half_a_second_of_the_throttle(settings):
    assert settings.outbox.batch_size == 500
    assert bulk_job_size(settings, "africastalking") == 25  # 50/s
    assert bulk_job_size(settings, "twilio") == 5  # 10/s
    fast = replace(settings, outbox=replace(settings.outbox, africastalking_per_second=10_000))
    assert bulk_job_size(fast, "africastalking") == 500


@pytest.mark.parametrize("outbox", [{"africastalking_per_second": 10_000}], indirect=True)
def test_a_job_of_invites_is_one_africastalking_call(outbox):
    numbers = [fresh_number() for _ in range(300)]
    with Session(outbox.engine) as session:
        queue_messages(session, outbox.redis, outbox.settings, [
            NewMessage(pseudonym(n, outbox.settings.secret_key), n, "africastalking",
                       "Budget poll: dial *384*1#") for n in numbers])
    assert Queue("low", connection=outbox.redis).count == 1

    outbox.work()

    assert outbox.emulator.calls() == {"africastalking": 1, "twilio": 0}
    accepted = {m["to"]: m["id"] for m in outbox.sent()}
    assert sorted(accepted) == sorted(numbers)
    with Session(outbox.engine) as session:
        rows = session.exec(select(OutboundMessage)).all()
    assert {(r.status, r.provider_id) for r in rows} == {("sent", pid) for pid in accepted.values()}


def test_with_redis_down_the_row_waits_for_the_sweeper(outbox):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    number = fresh_number()
    with Session(outbox.engine, expire_on_commit=False) as session:
        row = queue_message(session, dead, outbox.settings,
                            contact_pseudonym=pseudonym(number, outbox.settings.secret_key),
                            number_e164=number, provider="twilio", text="Hi", kind="reply")
    assert message(outbox.engine, row.id).status == "queued"  # committed, no job

    assert sweep_outbox(outbox.engine, outbox.redis, outbox.settings).requeued == 0  # too soon
    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings,
                         now=later(61))
    assert sweep.requeued == 1
    outbox.work()
    assert message(outbox.engine, row.id).status == "sent"
    assert len(outbox.sent()) == 1


def test_the_sweeper_leaves_a_waiting_job_alone_and_revives_a_lost_one(outbox):
    waiting = outbox.queue()
    taken = outbox.queue()
    high = Queue("high", connection=outbox.redis)
    outbox.redis.lrem(high.key, 1, f"sms-{taken.id}")  # a worker took it, then died

    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings,
                         now=later(61))
    assert (sweep.waiting, sweep.requeued) == (1, 1)
    assert sorted(high.job_ids) == sorted([f"sms-{waiting.id}", f"sms-{taken.id}"])
    again = sweep_outbox(outbox.engine, outbox.redis, outbox.settings,
                         now=later(62))
    assert (again.waiting, again.requeued) == (0, 0)  # touched: not looked at again so soon


# --- sending -----------------------------------------------------------------------------------


def test_both_providers_send_through_the_real_sdks(outbox):
    at = [outbox.queue(provider="africastalking") for _ in range(3)]
    tw = [outbox.queue(provider="twilio") for _ in range(3)]
    outbox.work()

    sent = {m["id"]: m for m in outbox.sent()}
    assert len(sent) == 6
    for row in at + tw:
        stored = message(outbox.engine, row.id)
        assert stored.status == "sent" and stored.attempts == 1 and stored.sent_at
        assert sent[stored.provider_id]["provider"] == row.provider
        assert sent[stored.provider_id]["text"] == row.text


def test_africastalking_bulk_checks_each_recipient(outbox):
    numbers = [fresh_number() for _ in range(5)]
    outbox.emulator.fault("invalid", provider="africastalking", to=numbers[1])
    outbox.emulator.fault("blacklist", provider="africastalking", to=numbers[3])
    messages = [NewMessage(pseudonym(n, outbox.settings.secret_key), n, "africastalking",
                           "Budget poll: reply KURA") for n in numbers]
    with Session(outbox.engine, expire_on_commit=False) as session:
        rows = queue_messages(session, outbox.redis, outbox.settings, messages)
    outbox.work()

    statuses = [(message(outbox.engine, r.id).status, message(outbox.engine, r.id).failure_reason)
                for r in rows]
    assert statuses == [
        ("sent", None), ("failed", "403 InvalidPhoneNumber"), ("sent", None),
        ("failed", "406 UserInBlacklist"), ("sent", None),
    ]
    assert len(outbox.sent()) == 3


def test_transient_errors_retry_through_rq_and_send_once(outbox):
    outbox.emulator.fault("429", provider="twilio", count=1)
    outbox.emulator.fault("500", provider="twilio", count=1)
    at_row = outbox.queue(provider="africastalking")
    outbox.emulator.fault("429", provider="africastalking", count=2)
    row = outbox.queue(provider="twilio")
    outbox.work()

    for sent in (row, at_row):
        stored = message(outbox.engine, sent.id)
        assert (stored.status, stored.attempts) == ("sent", 3)
    assert len(outbox.sent()) == 2


@pytest.mark.parametrize("outbox", [{"max_attempts": 2}], indirect=True)
def test_a_transient_error_that_lasts_fails_after_max_attempts(outbox):
    outbox.emulator.fault("500", provider="twilio", count=5)
    row = outbox.queue()
    outbox.work()
    stored = message(outbox.engine, row.id)
    assert stored.status == "failed" and stored.attempts == 2
    assert stored.failure_reason.startswith("gave up after 2 attempts: HTTP 500")
    assert outbox.sent() == []


def test_an_invalid_number_fails_with_the_providers_reason(outbox):
    outbox.emulator.fault("invalid", provider="twilio")
    row = outbox.queue()
    outbox.work()
    stored = message(outbox.engine, row.id)
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert stored.failure_reason.startswith("21211")


def test_twilio_21610_fails_the_message_and_stops_the_contact(outbox):
    number = fresh_number()
    outbox.emulator.fault("optout", provider="twilio", to=number)
    row = outbox.queue(number)
    outbox.work()

    stored = message(outbox.engine, row.id)
    assert stored.status == "failed" and stored.failure_reason.startswith("21610")
    assert contact(outbox.engine, outbox.settings, number).opted_out
    after = outbox.queue(number, kind="bulk")
    assert message(outbox.engine, after.id).failure_reason == "opted out"


def test_a_job_run_again_after_the_provider_accepted_sends_nothing(outbox):
    row = outbox.queue()
    outbox.work()
    assert message(outbox.engine, row.id).status == "sent"

    with Session(outbox.engine) as session:  # the same job again, as a retry or duplicate would
        enqueue_jobs(outbox.redis, outbox.settings,
                     plan_jobs([session.get(OutboundMessage, row.id)]))
    # a queued-looking plan is still refused by the claim
    enqueue_jobs(outbox.redis, outbox.settings, [_plan(row.id)])
    outbox.work()
    assert send(outbox.sender, [row.id]) == "sent=0 failed=0 retry=0 unsure=0"
    assert len(outbox.sent()) == 1


def _plan(message_id: int):
    from gateway.outbox import JobPlan

    return JobPlan(f"sms-{message_id}", "high", (message_id,), batch=False)


def test_concurrent_jobs_for_the_same_rows_send_each_once(outbox, database_url):
    from gateway.db import make_engine

    rows = [make_message(outbox.engine, outbox.settings, provider="twilio") for _ in range(30)]
    ids = [r.id for r in rows]
    engines = [make_engine(database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            send(Sender(outbox.settings, engine, outbox.redis), ids)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert errors == []
    sent = outbox.sent()
    assert len(sent) == 30 and len({m["to"] for m in sent}) == 30
    assert {message(outbox.engine, i).attempts for i in ids} == {1}


def test_replies_go_before_bulk(outbox):
    for _ in range(5):
        outbox.queue(provider="twilio", kind="bulk", text="Poll invite")
    reply = outbox.queue(provider="twilio", kind="reply", text="Your reply")
    outbox.work()
    assert [m["text"] for m in outbox.sent()][0] == reply.text


@pytest.mark.parametrize("outbox", [{"twilio_per_second": 20}], indirect=True)
def test_sending_keeps_to_the_providers_rate(outbox):
    rows = [make_message(outbox.engine, outbox.settings, provider="twilio") for _ in range(30)]
    start = time.monotonic()
    send(outbox.sender, [r.id for r in rows])
    assert time.monotonic() - start >= 0.45  # 20 at once, 10 more at 20/s
    assert len(outbox.sent()) == 30


def test_a_transient_error_puts_the_row_back_and_raises_for_rq(outbox):
    outbox.emulator.fault("429", provider="twilio", count=1)
    row = make_message(outbox.engine, outbox.settings)
    with pytest.raises(RetryLater, match="429"):
        send(outbox.sender, [row.id])
    assert (message(outbox.engine, row.id).status, message(outbox.engine, row.id).attempts) == (
        "queued", 1)


# --- interrupted sends -------------------------------------------------------------------------


def test_a_lost_answer_is_confirmed_with_twilio_not_resent(outbox):
    outbox.emulator.fault("slow", provider="twilio", seconds=3)  # the client gives up at 2 s
    row = make_message(outbox.engine, outbox.settings, provider="twilio")
    assert "unsure=1" in send(outbox.sender, [row.id])
    assert message(outbox.engine, row.id).status == "sending"
    _wait_for(lambda: len(outbox.sent()) == 1)  # the emulator did take it, late

    assert sweep_outbox(outbox.engine, outbox.redis, outbox.settings).confirmed == 0  # lease
    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings,
                         now=later(121))
    assert sweep.confirmed == 1
    stored = message(outbox.engine, row.id)
    assert (stored.status, stored.provider_id) == ("sent", outbox.sent()[0]["id"])


def test_a_claim_the_provider_never_saw_is_queued_again_and_sent_once(outbox):
    row = make_message(outbox.engine, outbox.settings, provider="twilio", status="sending",
                       claimed_at=datetime.now(UTC) - timedelta(seconds=600), attempts=1)
    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings)
    assert sweep.returned == 1
    outbox.work()
    stored = message(outbox.engine, row.id)
    assert (stored.status, stored.attempts) == ("sent", 2)
    assert len(outbox.sent()) == 1


def test_an_interrupted_africastalking_send_becomes_unknown_never_resent(outbox):
    row = make_message(outbox.engine, outbox.settings, provider="africastalking",
                       status="sending", claimed_at=datetime.now(UTC) - timedelta(seconds=600))
    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings)
    assert sweep.unknown == 1
    stored = message(outbox.engine, row.id)
    assert stored.status == "unknown" and "cannot confirm" in stored.failure_reason
    outbox.work()
    assert outbox.sent() == []


def test_a_lookup_never_reuses_an_id_another_message_holds(outbox):
    number = fresh_number()
    first = outbox.queue(number, text="Same words")
    outbox.work()
    second = make_message(outbox.engine, outbox.settings, number=number, text="Same words",
                          status="sending",
                          claimed_at=datetime.now(UTC) - timedelta(seconds=600))
    sweep = sweep_outbox(outbox.engine, outbox.redis, outbox.settings)
    assert sweep.returned == 1  # the only match is the first message's own id
    outbox.work()
    ids = {message(outbox.engine, r.id).provider_id for r in (first, second)}
    assert len(ids) == 2 and len(outbox.sent()) == 2


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_job_functions_are_importable_by_path():
    from rq.utils import import_attribute

    assert callable(import_attribute("gateway.outbox.send_message"))
    assert callable(import_attribute("gateway.outbox.send_batch"))


def test_sent_rows_are_in_the_database_not_only_in_memory(outbox):
    row = outbox.queue()
    outbox.work()
    with Session(outbox.engine) as session:
        stored = session.exec(select(OutboundMessage).where(OutboundMessage.id == row.id)).one()
    assert stored.status == "sent"


def test_replies_reserve_tokens_and_bulk_takes_them_in_calls_of_half_a_second(
        outbox, monkeypatch):
    """Replies reserve from the throttle (never behind bulk); bulk takes beyond the replies'
    headroom, a call of at most half a second of the rate at a time (gateway.throttle)."""
    from gateway import outbox as outbox_module

    asked: list[tuple[str, int]] = []
    monkeypatch.setattr(outbox_module.throttle, "wait_for",
                        lambda redis, provider, count, rate: asked.append(("reply", count)))
    monkeypatch.setattr(outbox_module.throttle, "wait_for_bulk",
                        lambda redis, provider, count, rate: asked.append(("bulk", count)))
    invites = [make_message(outbox.engine, outbox.settings, provider="africastalking",
                            text="Poll invite", kind="bulk") for _ in range(60)]  # 50/s
    reply = make_message(outbox.engine, outbox.settings, provider="africastalking")
    send(outbox.sender, [r.id for r in invites] + [reply.id])
    assert sorted(asked) == [("bulk", 10), ("bulk", 25), ("bulk", 25), ("reply", 1)]
    assert len(outbox.sent()) == 61
