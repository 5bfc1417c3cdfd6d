"""A citizen whose call dropped dials again: continue where they left off, or start again."""

from __future__ import annotations

import json

from sqlmodel import Session, select
from ussd_support import Citizen

from gateway.models import FlowRun
from gateway.phone import pseudonym
from gateway.runs import drain_outbox
from gateway.sessions import OUTBOX, run_key

OFFER = "CON Welcome back. Continue where you left off?\n1. Continue\n2. Start again"
AGE = "CON How old are you?"
PRIORITY = "CON Which project should your ward fund first?"


def dropped_after_two_answers(client) -> Citizen:
    citizen = Citizen(client)
    citizen.dial()
    citizen.type("1")  # English
    assert citizen.type("2").startswith(AGE)  # priority: borehole repair; then the call drops
    return citizen


def rows(db_engine) -> list[FlowRun]:
    with Session(db_engine) as session:
        return list(session.exec(select(FlowRun).order_by(FlowRun.started_at)))


def test_continue_keeps_the_answers_given_before_the_drop(client, redis_sync, db_engine):
    citizen = dropped_after_two_answers(client)
    assert citizen.dial() == OFFER
    assert citizen.type("1").startswith(AGE)
    citizen.type("2")  # 18-24
    citizen.type("3")  # ward
    citizen.type("0")  # no comment
    assert citizen.type("1").startswith("END Thank you! Your vote for Borehole repair")

    assert drain_outbox(redis_sync, db_engine) == 1
    (run,) = rows(db_engine)
    assert (run.status, run.last_step, run.hops) == ("completed", "thanks", 9)
    assert run.answers == {"priority": "borehole_repair", "age": "18_24",
                           "ward": "shaurimoyo_kaloleni", "confirm": "submit"}


def test_start_again_records_the_old_run_as_incomplete(client, redis_sync, db_engine):
    citizen = dropped_after_two_answers(client)
    assert citizen.dial() == OFFER
    # the language is remembered, so the fresh run skips the picker
    assert citizen.type("2").startswith(PRIORITY)

    assert drain_outbox(redis_sync, db_engine) == 1
    (old,) = rows(db_engine)
    assert (old.status, old.last_step, old.answers) == (
        "incomplete", "age", {"priority": "borehole_repair"})
    contact = pseudonym(citizen.phone, client.app.state.runtime.settings.secret_key)
    assert old.contact_pseudonym == contact
    fresh = json.loads(redis_sync.get(run_key(contact, "budget")))
    assert fresh["s"]["i"] != old.id and fresh["s"]["a"] == {}


def test_an_invalid_reply_to_the_offer_asks_again(client):
    citizen = dropped_after_two_answers(client)
    citizen.dial()
    again = citizen.type("7")
    assert again == OFFER.replace("CON ", "CON Please choose a number from the list.\n")


def test_a_run_older_than_the_window_is_closed_and_a_new_one_starts(
    client, redis_sync, db_engine
):
    citizen = dropped_after_two_answers(client)
    contact = pseudonym(citizen.phone, client.app.state.runtime.settings.secret_key)
    key = run_key(contact, "budget")
    stored = json.loads(redis_sync.get(key))
    window = client.app.state.runtime.settings.ussd.resume_window_seconds
    stored["u"] -= window + 1  # the citizen's last hop was longer ago than the window
    redis_sync.set(key, json.dumps(stored))

    assert citizen.dial().startswith(PRIORITY)  # no offer; the language is remembered
    (entry,) = [json.loads(raw) for raw in redis_sync.lrange(OUTBOX, 0, -1)]
    assert (entry["status"], entry["last_step"], entry["ended_at"]) == (
        "incomplete", "age", stored["u"])
    assert drain_outbox(redis_sync, db_engine) == 1
    assert [run.status for run in rows(db_engine)] == ["incomplete"]


def test_nothing_answered_yet_carries_on_without_asking(client, redis_sync):
    citizen = Citizen(client)
    citizen.dial()
    first = citizen.type("2")  # Kiswahili, then the call drops before any answer
    assert citizen.dial() == first
    assert redis_sync.llen(OUTBOX) == 0
