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
