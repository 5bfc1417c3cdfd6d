"""Finished runs move from the Redis outbox into SQL exactly once, whatever fails on the way."""

from __future__ import annotations

import json
import time

import pytest
from sqlmodel import Session, select
from ussd_support import Citizen

from gateway.db import make_engine
from gateway.models import Contact, FlowRun
from gateway.phone import pseudonym
from gateway.runs import OUTBOX_DEAD, drain_outbox, sweep_expired
from gateway.sessions import DEADLINES, OUTBOX, OUTBOX_PROCESSING, run_key

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


def entry(run_id: str = "run-1", **fields) -> str:
    data = {
        "run_id": run_id, "flow": "budget", "contact": "ab" * 16, "channel": "ussd",
        "language": "sw", "status": "completed", "last_step": "thanks",
        "answers": {"priority": "water_kiosks", "households": 4}, "hops": 7,
        "started_at": 1_700_000_000.0, "ended_at": 1_700_000_030.5, "simulated": False,
    }
    return json.dumps({**data, **fields})


def flow_runs(db_engine) -> list[FlowRun]:
    with Session(db_engine) as session:
        return list(session.exec(select(FlowRun).order_by(FlowRun.id)))


def test_a_finished_run_becomes_one_row_and_its_contact_remembers_the_language(
    redis_sync, db_engine
):
    redis_sync.rpush(OUTBOX, entry())
    assert drain_outbox(redis_sync, db_engine) == 1
    (run,) = flow_runs(db_engine)
    assert (run.id, run.flow, run.status, run.language, run.hops) == (
        "run-1", "budget", "completed", "sw", 7)
    assert run.answers == {"priority": "water_kiosks", "households": 4}
    assert run.started_at.timestamp() == 1_700_000_000.0
    assert run.ended_at.timestamp() == 1_700_000_030.5
    with Session(db_engine) as session:
        (contact,) = session.exec(select(Contact)).all()
    assert (contact.pseudonym, contact.language) == ("ab" * 16, "sw")
    assert redis_sync.llen(OUTBOX) == redis_sync.llen(OUTBOX_PROCESSING) == 0


def test_the_same_run_seen_twice_is_written_once(redis_sync, db_engine):
    redis_sync.rpush(OUTBOX, entry(), entry(), entry("run-2", language="fr"))
    assert drain_outbox(redis_sync, db_engine) == 3
    redis_sync.rpush(OUTBOX, entry())
    drain_outbox(redis_sync, db_engine)
    assert [run.id for run in flow_runs(db_engine)] == ["run-1", "run-2"]
    with Session(db_engine) as session:
        (contact,) = session.exec(select(Contact)).all()
    assert contact.language == "fr"


def test_entries_left_mid_write_by_a_crash_are_written_on_the_next_drain(redis_sync, db_engine):
    redis_sync.rpush(OUTBOX_PROCESSING, entry("run-1"))  # moved, then the worker died
    redis_sync.rpush(OUTBOX, entry("run-2"))
    assert drain_outbox(redis_sync, db_engine) == 2
    assert [run.id for run in flow_runs(db_engine)] == ["run-1", "run-2"]
    assert redis_sync.llen(OUTBOX_PROCESSING) == 0


def test_with_the_database_down_nothing_is_lost(redis_sync, db_engine):
    redis_sync.rpush(OUTBOX, entry("run-1"), entry("run-2"))
    down = make_engine(UNREACHABLE)
    try:
        assert drain_outbox(redis_sync, down) == 0
        assert drain_outbox(redis_sync, down) == 0
    finally:
        down.dispose()
    assert redis_sync.llen(OUTBOX) + redis_sync.llen(OUTBOX_PROCESSING) == 2
    assert drain_outbox(redis_sync, db_engine) == 2
    assert drain_outbox(redis_sync, db_engine) == 0
    assert [run.id for run in flow_runs(db_engine)] == ["run-1", "run-2"]


def test_a_run_completed_while_the_database_is_down_is_stored_once_it_is_back(
    client, redis_sync, db_engine
):
    citizen = Citizen(client)
    citizen.dial()
    for typed in ["1", "1", "2", "3", "0"]:
        citizen.type(typed)
    assert citizen.type("1").startswith("END Thank you!")
    down = make_engine(UNREACHABLE)
    try:
        assert drain_outbox(redis_sync, down) == 0
    finally:
        down.dispose()
    assert flow_runs(db_engine) == []
    assert drain_outbox(redis_sync, db_engine) == 1
    (run,) = flow_runs(db_engine)
    assert (run.status, run.answers["priority"]) == ("completed", "water_kiosks")


def test_a_row_the_database_refuses_is_set_aside_and_the_rest_go_through(redis_sync, db_engine):
    redis_sync.rpush(OUTBOX, entry("run-1"), entry("run-bad", language=None), b"{not json",
                     entry("run-3"))
    assert drain_outbox(redis_sync, db_engine) == 4
    assert [run.id for run in flow_runs(db_engine)] == ["run-1", "run-3"]
    (dead,) = redis_sync.lrange(OUTBOX_DEAD, 0, -1)
    assert json.loads(dead)["run_id"] == "run-bad"


@pytest.fixture
def open_run(client, redis_sync):
    """A citizen answered two steps and hung up: an open run waits in Redis."""
    citizen = Citizen(client)
    citizen.dial()
    citizen.type("2")  # Kiswahili
    citizen.type("1")  # priority
    contact = pseudonym(citizen.phone, client.app.state.runtime.settings.secret_key)
    return contact, json.loads(redis_sync.get(run_key(contact, "budget")))


def test_sweep_closes_runs_past_their_window_as_incomplete(open_run, redis_sync, db_engine):
    contact, stored = open_run
    window = 600
    assert sweep_expired(redis_sync, time.time(), window) == 0  # still inside the window
    assert redis_sync.exists(run_key(contact, "budget"))

    assert sweep_expired(redis_sync, stored["u"] + window + 1, window) == 1
    assert not redis_sync.exists(run_key(contact, "budget"))
    assert redis_sync.zcard(DEADLINES) == 0
    assert drain_outbox(redis_sync, db_engine) == 1
    (run,) = flow_runs(db_engine)
    assert (run.status, run.last_step, run.language) == ("incomplete", "age", "sw")
    assert run.answers == {"priority": "water_kiosks"}
    assert run.ended_at.timestamp() == pytest.approx(stored["u"])


def test_sweep_leaves_a_run_touched_since_its_deadline_was_read(open_run, redis_sync):
    contact, stored = open_run
    member = f"{contact}:budget"
    redis_sync.zadd(DEADLINES, {member: 0})  # a stale deadline; the run itself is fresh
    assert sweep_expired(redis_sync, time.time(), 600) == 0
    assert redis_sync.exists(run_key(contact, "budget"))


def test_sweep_forgets_deadlines_of_runs_that_are_gone(redis_sync):
    redis_sync.zadd(DEADLINES, {"ab" * 16 + ":budget": 0})
    assert sweep_expired(redis_sync, time.time(), 600) == 0
    assert redis_sync.zcard(DEADLINES) == 0
    assert redis_sync.llen(OUTBOX) == 0
