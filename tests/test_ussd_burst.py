"""A burst of citizens dialling at once waits for a pooled Redis connection instead of failing.

Found by the USSD load generator (now `bench/load.py`): 200 simultaneous first hops exhausted a
non-blocking pool of 100 connections and half the citizens got 503 while Redis was healthy.
The pool now holds 64 connections; 160 citizens at once are two and a half times that (300 on a
machine loaded by the parallel suite could wait past the pool's 2 s, which is a load question
for `make bench`, not this test's).
"""

from __future__ import annotations

import asyncio

import pytest
from ussd_support import BUDGET, fresh_phone

from gateway.channels.africastalking import UssdHop
from gateway.hop import handle_hop
from gateway.runtime import build_runtime

pytestmark = pytest.mark.anyio


async def test_more_citizens_dialling_at_once_than_pooled_connections_all_get_the_language_menu(
    settings, redis_sync
):
    runtime = build_runtime(settings)
    try:
        hops = [UssdHop(f"burst-{n}", BUDGET, fresh_phone(), "63902", "") for n in range(160)]
        screens = await asyncio.gather(*(handle_hop(runtime, hop) for hop in hops))
    finally:
        await runtime.aclose()
    assert {screen.text.splitlines()[0] for screen in screens} == {"Language / Lugha / Langue:"}
    assert not any(screen.final for screen in screens)
    assert len(redis_sync.keys("gw:ussd:burst-*")) == 160
