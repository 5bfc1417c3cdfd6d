"""`gateway worker`: finished runs reach SQL while it runs, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, environ_for_tests
from sqlmodel import Session, select

from gateway.models import FlowRun
from gateway.sessions import OUTBOX
from gateway.worker import runs_loop


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
