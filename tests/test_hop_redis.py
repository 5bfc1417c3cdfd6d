"""The USSD hop's lean Redis client against the real Redis: same answers and errors as redis-py,
replies never handed to the wrong hop, and a dropped connection replaced without a 503."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from ussd_support import BUDGET, fresh_phone

from gateway.channels.africastalking import UssdHop
from gateway.hop import handle_hop
from gateway.hop_redis import HopRedis, supports
from gateway.runtime import build_runtime
from gateway.sessions import SAVE_LUA, session_key

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(redis_url, redis_sync):
    client = HopRedis(redis_url)
    yield client
    await client.aclose()


class CountingHopRedis(HopRedis):
    """Every command sent, by name: one command is one round-trip (nothing is batched into a
    MULTI, and a write carrying several hops' commands is still one reply per command)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[str] = []

    async def execute(self, *args):
        self.sent.append(str(args[0]).upper())
        return await super().execute(*args)


async def test_mget_and_get_answer_like_redis_py(client, redis_sync):
    redis_sync.set("gw:test:a", "ünïcode")
    assert await client.mget(["gw:test:a", "gw:test:missing"]) == ["ünïcode".encode(), None]
    assert await client.get("gw:test:a") == "ünïcode".encode()


async def test_an_unknown_script_is_redis_pys_no_script_error_until_loaded(client):
    # a script of this test's own: SCRIPT FLUSH would disturb others sharing this Redis
    script = f"return #KEYS + #ARGV -- {uuid.uuid4()}"
    sha = hashlib.sha1(script.encode()).hexdigest()
    with pytest.raises(NoScriptError):
        await client.evalsha(sha, 1, "k", "a")
    assert await client.script_load(script) == sha
    assert await client.evalsha(sha, 2, "k1", "k2", "a", 1, 2.5) == 5


async def test_error_replies_raise_and_the_next_command_still_gets_its_own_answer(client):
    with pytest.raises(ResponseError):
        await client.execute("INCR", "gw:test:a", "too", "many")
    await client.execute("SET", "gw:test:b", "b")
    assert await client.get("gw:test:b") == b"b"


async def test_a_cancelled_command_leaves_its_reply_behind(client, redis_sync):
    redis_sync.set("gw:test:after", "mine")
    # BLPOP holds the connection in Redis; the hop waiting for it gives up (its deadline)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await client.execute("BLPOP", "gw:test:empty-list", "0.3")
    # the next command's answer is its own, not BLPOP's late nil
    assert await client.get("gw:test:after") == b"mine"


async def test_many_concurrent_commands_each_get_their_own_reply(client, redis_sync):
    redis_sync.mset({f"gw:test:{n}": str(n) for n in range(300)})
    replies = await asyncio.gather(*(client.get(f"gw:test:{n}") for n in range(300)))
    assert replies == [str(n).encode() for n in range(300)]


async def test_a_connection_dropped_by_redis_is_replaced_transparently(client, redis_sync):
    redis_sync.set("gw:test:a", "a")
    first = await client.execute("CLIENT", "ID")
    redis_sync.execute_command("CLIENT", "KILL", "ID", first)  # ours only: others share Redis
    assert await client.get("gw:test:a") == b"a"
    assert await client.execute("CLIENT", "ID") != first


async def test_an_unreachable_redis_is_a_connection_error_at_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    client = HopRedis(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(RedisConnectionError):
        async with asyncio.timeout(2):
            await client.mget(["gw:test:a"])


def test_urls_it_takes_and_those_it_leaves_to_redis_py():
    assert supports("redis://127.0.0.1:6379/3")
    assert supports("redis://user:secret@redis.internal:6379/0")
    assert supports("rediss://redis.internal:6380/0?ssl_cert_reqs=none")
    assert supports("unix:///srv/var/redis.sock?db=2")
    assert not supports("redis://127.0.0.1:6379/0?socket_timeout=3")
    assert not supports("http://127.0.0.1:6379")


async def test_a_whole_walk_costs_two_round_trips_a_hop_and_one_for_a_replay(
    settings, redis_sync, redis_url
):
    runtime = build_runtime(settings)
    client = CountingHopRedis(redis_url)
    await client.script_load(SAVE_LUA)  # a fresh server costs one SCRIPT LOAD, once
    phone, typed, screens = fresh_phone(), [], []
    try:
        for answer in [None, "1", "98", "7", "3", "2", "0", "1"]:
            if answer is not None:
                typed.append(answer)
            client.sent.clear()
            hop = UssdHop("ATUid_counted", BUDGET, phone, "63902", "*".join(typed))
            screens.append(await handle_hop(runtime, hop, redis=client))
            assert client.sent == ["MGET", "EVALSHA"], (typed, client.sent)
        client.sent.clear()
        replay = await handle_hop(runtime, hop, redis=client)
    finally:
        await client.aclose()
        await runtime.aclose()
    assert client.sent == ["MGET"]
    assert replay == screens[-1] and replay.final
    assert screens[0].text.startswith("Language / Lugha / Langue:")
    assert [s.final for s in screens] == [False] * 7 + [True]


async def test_three_hundred_citizens_dialling_at_once_share_one_connection(
    settings, redis_sync, redis_url
):
    runtime = build_runtime(settings)
    client = HopRedis(redis_url)
    try:
        hops = [UssdHop(f"lean-{n}", BUDGET, fresh_phone(), "63902", "") for n in range(300)]
        screens = await asyncio.gather(*(handle_hop(runtime, h, redis=client) for h in hops))
    finally:
        await client.aclose()
        await runtime.aclose()
    assert {screen.text.splitlines()[0] for screen in screens} == {"Language / Lugha / Langue:"}
    assert len(redis_sync.keys(session_key("lean-*"))) == 300
