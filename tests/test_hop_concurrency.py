"""Hops of one session racing each other against the real Redis, and round-trips per hop.

AT does not send two hops of one session at once, but retries and slow networks do. Whatever
the interleaving, one input is applied once and the stored state stays readable.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from ussd_support import BUDGET, counting_redis, fresh_phone

from gateway.channels.africastalking import UssdHop
from gateway.hop import handle_hop
from gateway.phone import pseudonym
from gateway.runtime import build_runtime
from gateway.sessions import OUTBOX, SAVE_LUA, SessionRecord, StoredRun, run_key, session_key

pytestmark = pytest.mark.anyio


@pytest.fixture
async def runtime(settings, redis_url, redis_sync):
    runtime = build_runtime(settings)
    await runtime.redis.aclose()
    runtime.redis, runtime.sent = counting_redis(redis_url)
    await runtime.redis.script_load(SAVE_LUA)  # a fresh server costs one SCRIPT LOAD, once
    # open the pool's connections up front, so racing hops really overlap on the wire
    await asyncio.gather(*(runtime.redis.ping() for _ in range(8)))
    runtime.sent.clear()
    yield runtime
    await runtime.aclose()


class Phone:
    def __init__(self, runtime, session_id: str, phone: str | None = None) -> None:
        self.runtime, self.session_id = runtime, session_id
        self.phone = phone or fresh_phone()

    async def send(self, text: str):
        hop = UssdHop(self.session_id, BUDGET, self.phone, "63902", text)
        return await handle_hop(self.runtime, hop)

    def stored(self, redis_sync) -> tuple[SessionRecord, StoredRun | None]:
        contact = pseudonym(self.phone, self.runtime.settings.secret_key)
        raw_run = redis_sync.get(run_key(contact, "budget"))
        session = SessionRecord.from_json(redis_sync.get(session_key(self.session_id)))
        return session, StoredRun.from_json(raw_run) if raw_run else None


async def test_two_identical_hops_at_once_give_one_screen_and_one_write(runtime, redis_sync):
    phone = Phone(runtime, "ATUid_same")
    await phone.send("")
    runtime.sent.clear()
    first, second = await asyncio.gather(phone.send("1"), phone.send("1"))
    assert first == second
    assert first.text.startswith("Which project should your ward fund first?")
    assert runtime.sent.count("EVALSHA") <= 2
    session, run = phone.stored(redis_sync)
    assert (session.text, run.state.step, run.hops) == ("1", "priority", 2)


async def test_two_different_hops_at_once_apply_exactly_one_answer(runtime, redis_sync):
    phone = Phone(runtime, "ATUid_race")
    await phone.send("")
    await phone.send("1")
    runtime.sent.clear()
    screens = await asyncio.gather(phone.send("1*2"), phone.send("1*3"))
    # the loser is told the winner's screen; it never moves the run a second time
    assert screens[0] == screens[1]
    assert screens[0].text.startswith("How old are you?")
    assert runtime.sent.count("EVALSHA") == 2, runtime.sent  # one compare-and-set lost
    session, run = phone.stored(redis_sync)
    winner = {"1*2": "borehole_repair", "1*3": "street_lights"}[session.text]
    assert run.state.answers == {"priority": winner}
    assert (run.state.step, run.hops) == ("age", 3)


async def test_many_racing_hops_leave_a_consistent_run_and_one_completion(runtime, redis_sync):
    phone = Phone(runtime, "ATUid_storm")
    previous = ""
    await phone.send(previous)
    for text in ["1", "1*1", "1*1*2", "1*1*2*3", "1*1*2*3*0", "1*1*2*3*0*1"]:
        # five copies of the hop, and two late retries of the hop before it
        results = await asyncio.gather(*(phone.send(t) for t in [text] * 5 + [previous] * 2))
        assert len(set(results[:5])) == 1, text
        previous = text
    assert results[0].final and results[0].text.startswith("Thank you!")
    entries = [json.loads(raw) for raw in redis_sync.lrange(OUTBOX, 0, -1)]
    assert [(e["status"], e["hops"]) for e in entries] == [("completed", 7)]
    assert entries[0]["answers"] == {"priority": "water_kiosks", "age": "18_24",
                                     "ward": "shaurimoyo_kaloleni", "confirm": "submit"}


async def test_round_trips_per_hop(runtime, redis_sync):
    """The stated goal: at most two Redis round-trips per hop; a replay needs one."""
    phone = Phone(runtime, "ATUid_rt")
    measured = {}

    async def hop(name: str, text: str, session: Phone = phone):
        runtime.sent.clear()
        screen = await session.send(text)
        measured[name] = list(runtime.sent)
        return screen

    await hop("first hop", "")
    await hop("answer hop", "1")
    await hop("replay", "1")
    await hop("answer hop 2", "1*2")
    redial = Phone(runtime, "ATUid_rt2", phone.phone)
    offer = await hop("resume offer (new session)", "", redial)
    assert offer.text.startswith("Welcome back.")
    await hop("resume: continue", "1", redial)
    await hop("stale hop", "2", redial)
    assert measured == {
        "first hop": ["MGET", "EVALSHA"],
        "answer hop": ["MGET", "EVALSHA"],
        "replay": ["MGET"],
        "answer hop 2": ["MGET", "EVALSHA"],
        "resume offer (new session)": ["MGET", "EVALSHA"],
        "resume: continue": ["MGET", "EVALSHA"],
        "stale hop": ["MGET"],
    }
    print("round-trips per hop:", {name: len(sent) for name, sent in measured.items()})


async def test_after_a_redis_restart_the_first_hop_reloads_the_script_once(runtime):
    await runtime.redis.script_flush()  # what a restarted Redis looks like to us
    phone = Phone(runtime, "ATUid_restart")
    runtime.sent.clear()
    await phone.send("")
    assert runtime.sent == ["MGET", "EVALSHA", "SCRIPT", "EVALSHA"]
    runtime.sent.clear()
    await phone.send("1")
    assert runtime.sent == ["MGET", "EVALSHA"]
