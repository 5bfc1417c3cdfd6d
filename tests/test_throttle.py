"""The per-provider token bucket, against a real Redis."""

from __future__ import annotations

import threading
import time

import pytest

from gateway.throttle import KEY, reserve, wait_for


def test_a_full_bucket_grants_a_second_of_messages_without_waiting(redis_sync):
    first = time.monotonic()
    assert reserve(redis_sync, "twilio", 10, rate=10.0) == 0.0
    wait = reserve(redis_sync, "twilio", 5, rate=10.0)
    due = time.monotonic() - first + wait
    # five more tokens take half a second to accumulate, counted from the first reservation
    # (however slowly a loaded machine made the two calls)
    assert 0.0 < wait <= 0.5
    assert due == pytest.approx(0.5, abs=0.05)


def test_reservations_queue_up_at_the_rate(redis_sync):
    rate, calls = 100.0, []
    for _ in range(300):
        before = time.monotonic()
        wait = reserve(redis_sync, "africastalking", 1, rate=rate)
        calls.append((before, wait, time.monotonic()))
    assert [wait for _, wait, _ in calls[:99]] == [0.0] * 99  # the burst: one second's worth
    # The k-th token exists (k - rate) / rate seconds after the first reservation. Each caller is
    # told to wait until then and no longer, however slowly a loaded machine made the calls
    # (a slow caller finds the bucket refilled). Redis's clock is read somewhere inside each call,
    # so the bounds use the side of the call that can only make them looser.
    first_before, _, first_after = calls[0]
    for k, (before, wait, after) in enumerate(calls, start=1):
        exists_at = (k - rate) / rate
        assert after + wait >= first_before + exists_at - 0.002, k  # never ahead of the rate
        assert wait <= max(0.0, first_after + exists_at - before) + 0.002, k  # never held back


def test_providers_have_separate_buckets(redis_sync):
    reserve(redis_sync, "twilio", 50, rate=10.0)
    assert reserve(redis_sync, "africastalking", 50, rate=50.0) == 0.0


def test_the_bucket_refills_with_time_and_its_key_expires_when_idle(redis_sync):
    reserve(redis_sync, "twilio", 20, rate=20.0)
    time.sleep(0.5)
    assert reserve(redis_sync, "twilio", 10, rate=20.0) == pytest.approx(0.0, abs=0.05)
    ttl_ms = redis_sync.pttl(KEY.format(provider="twilio"))
    assert 0 < ttl_ms <= 2600  # an idle bucket is full again: nothing left to remember


def test_many_workers_together_never_exceed_the_rate(redis_url, redis_sync):
    import redis

    rate, per_thread, threads = 50.0, 25, 4
    sent_at: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        client = redis.Redis.from_url(redis_url)
        for _ in range(per_thread):
            wait_for(client, "africastalking", 1, rate=rate)
            with lock:
                sent_at.append(time.monotonic())
        client.close()

    start = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    # 100 messages: 50 from the full bucket at once, then 50/s. Whatever the machine's load, the
    # k-th message is never sent before (k - 50) / 50 s have passed: the rate is never exceeded.
    assert len(sent_at) == 100
    early = [k for k, at in enumerate(sorted(sent_at), start=1)
             if at - start < (k - rate) / rate - 0.02]
    assert early == []
    assert max(sent_at) - start >= 0.98


def test_nothing_is_taken_for_nothing(redis_sync):
    assert reserve(redis_sync, "twilio", 0, rate=1.0) == 0.0
    assert not redis_sync.exists(KEY.format(provider="twilio"))


def test_unused_tokens_can_be_given_back_up_to_a_full_bucket(redis_sync):
    from gateway.throttle import refund

    reserve(redis_sync, "twilio", 10, rate=10.0)
    refund(redis_sync, "twilio", 4, rate=10.0)
    assert reserve(redis_sync, "twilio", 4, rate=10.0) == pytest.approx(0.0, abs=0.02)
    refund(redis_sync, "twilio", 100, rate=10.0)
    assert reserve(redis_sync, "twilio", 11, rate=10.0) == pytest.approx(0.1, abs=0.02)


# --- replies and bulk share the bucket; replies never wait behind bulk (issue 6) ---------------


def test_bulk_takes_only_what_the_bucket_holds_beyond_the_replies_headroom(redis_sync):
    from gateway.throttle import reply_headroom, take_bulk

    rate = 10.0  # a full bucket of 10; replies keep reply_headroom(10) == 1 of it from bulk
    assert reply_headroom(rate) == 1.0
    first = time.monotonic()
    assert take_bulk(redis_sync, "twilio", 8, rate=rate) == 0.0
    wait = take_bulk(redis_sync, "twilio", 5, rate=rate)  # about 2 left, 6 needed: none taken
    took = time.monotonic() - first
    # 5 + 1 tokens exist 0.4 s after the first call; a slow machine only shortens the wait
    assert 0.0 < wait <= 0.4 + 0.002
    assert took + wait >= 0.4 - 0.005
    assert reserve(redis_sync, "twilio", 1, rate=rate) == 0.0  # a reply finds its token at once
    assert reserve(redis_sync, "twilio", 1, rate=rate) == 0.0  # bulk took none of the rest


def test_bulk_waits_behind_replies_debt_and_the_headroom(redis_sync):
    from gateway.throttle import take_bulk

    rate = 10.0
    first = time.monotonic()
    assert reserve(redis_sync, "twilio", 10, rate=rate) == 0.0
    reserve(redis_sync, "twilio", 5, rate=rate)  # replies 5 tokens in debt: due 0.5 s after
    before = time.monotonic()
    wait = take_bulk(redis_sync, "twilio", 1, rate=rate)
    # Bulk asks again once the replies' debt is repaid and 1 + 1 (headroom) tokens exist:
    # 0.7 s after the first reservation at the earliest, however slow the calls were.
    assert wait > 0.0
    assert before + wait >= first + 0.7 - 0.005


def test_a_bulk_call_leaves_room_for_the_headroom_in_the_bucket():
    from gateway.throttle import bulk_call_size, reply_headroom

    assert (bulk_call_size(50.0), reply_headroom(50.0)) == (25, 5.0)
    assert (bulk_call_size(10.0), reply_headroom(10.0)) == (5, 1.0)
    for rate in (2.0, 3.0, 10.0, 20.0, 50.0, 1000.0, 1_000_000.0):
        assert bulk_call_size(rate) + reply_headroom(rate) <= rate  # both fit in a full bucket


def test_replies_do_not_wait_behind_a_saturating_broadcast(redis_url, redis_sync):
    """Two bulk workers drain a broadcast at 20/s, as fast as the bucket lets them, while a
    reply comes every 0.2 s: no reply is told to wait, and bulk and replies together never
    send faster than the provider's rate."""
    import redis

    from gateway.throttle import bulk_call_size, wait_for_bulk

    rate, replies_wanted = 20.0, 8
    call = bulk_call_size(rate)  # 10 tokens a bulk call
    sends: list[tuple[float, int]] = []  # (local time the tokens were ours to send, tokens)
    bulk_slept: list[float] = []
    reply_waits: list[float] = []
    reply_times: list[float] = []
    lock = threading.Lock()
    replies_done = threading.Event()
    first_before = time.monotonic()
    redis_sync.ping()

    def bulk_worker() -> None:
        client = redis.Redis.from_url(redis_url)
        while not replies_done.is_set():
            slept = wait_for_bulk(client, "africastalking", call, rate=rate)
            with lock:
                sends.append((time.monotonic(), call))
                bulk_slept.append(slept)
        client.close()

    workers = [threading.Thread(target=bulk_worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    client = redis.Redis.from_url(redis_url)
    try:
        while True:  # the replies start once bulk has drained the burst and waits for tokens
            with lock:
                if any(slept > 0 for slept in bulk_slept):
                    break
            time.sleep(0.01)
        for _ in range(replies_wanted):
            before = time.monotonic()
            wait = reserve(client, "africastalking", 1, rate=rate)
            with lock:
                sends.append((time.monotonic() + wait, 1))
                reply_waits.append(wait)
                reply_times.append(before)
            time.sleep(0.2)
    finally:
        replies_done.set()
        for thread in workers:
            thread.join()
        client.close()

    # Bulk kept asking for tokens while the replies came (its workers stop only after them) ...
    assert any(slept > 0 for slept in bulk_slept)
    # ... and no reply queued behind it: bulk always leaves the headroom in the bucket.
    assert reply_waits == [0.0] * replies_wanted
    assert any(reply_times[0] < at < reply_times[-1] for at, count in sends if count == call)
    # Together: the k-th token is never used before (k - rate) / rate s after the first call.
    tokens = sorted(at for at, count in sends for _ in range(count))
    early = [k for k, at in enumerate(tokens, start=1)
             if at < first_before + (k - rate) / rate - 0.005]
    assert early == []
