"""`gateway worker`: finished runs reach SQL while it runs, one worker sweeps the outbox per
interval, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO, environ_for_tests
from outbox_support import make_message
from rq import Queue
from sqlmodel import Session, select

from gateway.models import FlowRun
from gateway.sessions import OUTBOX
from gateway.worker import runs_loop, sweep_once


def entry(run_id: str) -> str:
    return json.dumps({
        "run_id": run_id, "flow": "budget", "contact": "cd" * 16, "channel": "ussd",
        "language": "en", "status": "completed", "last_step": "thanks", "answers": {},
        "hops": 3, "started_at": 1_700_000_000.0, "ended_at": 1_700_000_010.0,
        "simulated": False,
    })


def wait_for_runs(db_engine, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        with Session(db_engine) as session:
            ids = sorted(session.exec(select(FlowRun.id)).all())
        if len(ids) >= count or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


def test_the_loop_drains_until_told_to_stop(settings, redis_sync, db_engine):
    stop = threading.Event()
    loop = threading.Thread(target=runs_loop, args=(redis_sync, db_engine, settings, stop))
    loop.start()
    try:
        redis_sync.rpush(OUTBOX, entry("run-a"))
        assert wait_for_runs(db_engine, 1) == ["run-a"]
        redis_sync.rpush(OUTBOX, entry("run-b"))
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
    assert wait_for_runs(db_engine, 2, timeout=0) == ["run-a", "run-b"]  # the last drain


def test_one_worker_sweeps_the_outbox_per_interval(settings, redis_sync, db_engine):
    """Several workers share the sweep: a lost job is re-enqueued by the first worker to sweep
    in an interval; the others skip that interval."""
    fast = replace(settings, outbox=replace(settings.outbox, sweep_after_seconds=0,
                                            sweep_interval_seconds=0.3))
    lost = [make_message(db_engine, fast, updated_at=datetime.now(UTC) - timedelta(seconds=5))
            for _ in range(2)]
    high = Queue("high", connection=redis_sync)

    sweep_once(redis_sync, db_engine, fast)  # worker A
    assert high.job_ids == [f"sms-{lost[0].id}", f"sms-{lost[1].id}"]
    high.empty()
    sweep_once(redis_sync, db_engine, fast)  # worker B, in the same interval: skips
    assert high.count == 0
    time.sleep(0.3)
    sweep_once(redis_sync, db_engine, fast)  # the next interval: the jobs are lost again
    assert high.count == 2


@pytest.mark.slow
def test_gateway_worker_stores_runs_and_stops_on_sigterm(
    redis_url, redis_sync, database_url, db_engine, tmp_path
):
    env = {**os.environ, **environ_for_tests(
        redis_url=redis_url, database_url=database_url, var_dir=tmp_path / "var")}
    redis_sync.rpush(OUTBOX, entry("run-w"))
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "worker"], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: RQ's scheduler is a forked child
    )
    try:
        assert wait_for_runs(db_engine, 1) == ["run-w"]
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        try:  # whatever is left of the group (a scheduler would hold stdout open forever)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if process.returncode is None:
            process.communicate(timeout=5)
    assert process.returncode == 0, output
    assert "Traceback" not in output
