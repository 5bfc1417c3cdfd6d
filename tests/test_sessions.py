"""The Redis session store against a real Redis: one MGET to load, one Lua CAS to save."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from gateway.flows.engine import RunState
from gateway.sessions import (
    DEADLINES,
    OUTBOX,
    Change,
    Loaded,
    SessionRecord,
    SessionStore,
    StoredRun,
    deadline_member,
    finished_entry,
    lang_key,
    run_key,
    session_key,
)

pytestmark = pytest.mark.anyio
CONTACT = "c0ffee" * 5 + "00"


@pytest.fixture
async def store(redis_url, redis_sync):
    client = aioredis.Redis.from_url(redis_url)
    yield SessionStore(client, session_ttl=300, resume_window=600)
    await client.aclose()


def open_run(step: str = "age", answers=None, updated_at: float = 1000.0) -> StoredRun:
    state = RunState("run-1", "budget", step, "sw", answers or {"priority": "water"})
    return StoredRun(state, "ussd", started_at=990.0, updated_at=updated_at, hops=2)


def test_records_survive_a_round_trip_through_json():
    record = SessionRecord("1*2", "Chagua:\n1. Ndiyo", final=False, run_id="run-1")
    assert SessionRecord.from_json(record.to_json()) == record
    run = open_run()
    assert StoredRun.from_json(run.to_json()) == run
    assert len(run.to_json()) < 400


async def test_a_save_writes_every_key_with_its_expiry(store, redis_sync):
    loaded = await store.load("S1", CONTACT, "budget")
    assert loaded == Loaded(None, None, None)
    run = open_run()
    change = Change(SessionRecord("", "screen", False, "run-1"), run, language="sw")
    assert await store.save("S1", CONTACT, "budget", loaded, change)

    assert 290 < redis_sync.ttl(session_key("S1")) <= 300
    assert 600 < redis_sync.ttl(run_key(CONTACT, "budget")) <= 600 + 86400
    assert redis_sync.get(lang_key(CONTACT)) == b"sw"
    assert redis_sync.ttl(lang_key(CONTACT)) == -1
    assert redis_sync.zscore(DEADLINES, deadline_member(CONTACT, "budget")) == 1600.0
    again = await store.load("S1", CONTACT, "budget")
    assert (again.session, again.run, again.language) == (change.session, run, "sw")


async def test_a_save_on_stale_reads_is_refused_and_writes_nothing(store, redis_sync):
    loaded = await store.load("S1", CONTACT, "budget")
    first = Change(SessionRecord("", "one", False, "run-1"), open_run())
    assert await store.save("S1", CONTACT, "budget", loaded, first)
    before = {key: redis_sync.dump(key) for key in redis_sync.keys("*")}

    second = Change(SessionRecord("", "two", False, "run-1"), open_run("ward"), language="fr",
                    outbox=("{}",))
    assert not await store.save("S1", CONTACT, "budget", loaded, second)
    assert {key: redis_sync.dump(key) for key in redis_sync.keys("*")} == before


async def test_the_run_is_compared_even_from_another_session(store):
    """Two sessions of one contact (a re-dial) must not both move the same open run."""
    loaded_a = await store.load("A", CONTACT, "budget")
    loaded_b = await store.load("B", CONTACT, "budget")
    assert await store.save("A", CONTACT, "budget", loaded_a,
                            Change(SessionRecord("", "a", False, "run-1"), open_run()))
    assert not await store.save("B", CONTACT, "budget", loaded_b,
                                Change(SessionRecord("", "b", False, "run-2"), open_run()))


async def test_closing_a_run_pushes_it_on_the_outbox_and_clears_its_deadline(store, redis_sync):
    loaded = await store.load("S1", CONTACT, "budget")
    await store.save("S1", CONTACT, "budget", loaded,
                     Change(SessionRecord("", "x", False, "run-1"), open_run()))
    loaded = await store.load("S1", CONTACT, "budget")
    entry = finished_entry(loaded.run, CONTACT, "completed", ended_at=1010.0)
    done = Change(SessionRecord("1", "Thanks", True, "run-1"), None, outbox=(entry,))
    assert await store.save("S1", CONTACT, "budget", loaded, done)

    assert not redis_sync.exists(run_key(CONTACT, "budget"))
    assert redis_sync.zcard(DEADLINES) == 0
    (pushed,) = redis_sync.lrange(OUTBOX, 0, -1)
    assert json.loads(pushed) == {
        "run_id": "run-1", "flow": "budget", "contact": CONTACT, "channel": "ussd",
        "language": "sw", "status": "completed", "last_step": "age",
        "answers": {"priority": "water"}, "hops": 2, "started_at": 990.0, "ended_at": 1010.0,
        "simulated": False,
    }


async def test_an_unreadable_value_counts_as_absent(store, redis_sync):
    redis_sync.set(run_key(CONTACT, "budget"), b"{not json")
    loaded = await store.load("S1", CONTACT, "budget")
    assert loaded.run is None
    change = Change(SessionRecord("", "x", False, "run-1"), open_run())
    assert await store.save("S1", CONTACT, "budget", loaded, change)
