"""`gateway worker`: the RQ worker (with its scheduler) plus the runs drain/sweep loop.

The loop runs in a thread beside RQ's work loop: RQ owns the main thread's SIGTERM/SIGINT
handling (warm shutdown), and when its loop returns the drain thread is told to stop and
gets one last drain, so nothing finished is left waiting in Redis longer than necessary.

Jobs run in the worker process itself (RQ's SimpleWorker), not in a work horse forked per job:
a fork, then a fresh database connection and settings in the horse, cost more CPU than sending
the job's SMS (bench/broadcast.py on a busy 2-core machine, 100 messages a job: 1.9 ms of worker
CPU per message with a fork per job, 0.3 ms without). What a fork protected against does not
apply to our jobs: they hold no state
between runs (`gateway.outbox.job_sender` is built once per process), RQ's job timeout still
interrupts a stuck job (SIGALRM in the worker), and a worker killed in the middle of a job
loses nothing the outbox's claims and sweeper do not already recover
(tests/faults/test_worker_kill.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import StopRequested
from sqlalchemy import Engine

from gateway.config import Settings
from gateway.outbox import sweep_outbox
from gateway.runs import drain_outbox, sweep_expired
from gateway.sms.sessions import sweep_expired as sweep_expired_sms

if TYPE_CHECKING:
    from gateway.reports.service import Filing
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

QUEUES = ["high", "default", "low"]  # in this order: replies to citizens go before bulk sends

# RQ forks its scheduler from the main thread (at start, and again if it dies). Were the
# drain/sweep thread inside an import, SQLite or any other lock at that instant, the child would
# inherit the lock held by a thread it does not have, and hang the first time it needs it. So the
# thread does its work holding FORK_GUARD, and a fork waits for it (os.register_at_fork in `main`).
FORK_GUARD = threading.Lock()
RESTART_PAUSE_SECONDS = 2.0
SCHEDULER_STOP_SECONDS = 3.0  # RQ's scheduler checks for a stop request every second
SWEEP_KEY = "gw:outbox:sweep"  # held by the worker that sweeps this interval
SWEEP_KEY_SHARE = 0.8  # of the interval: the key is gone again when the next sweep is due


def _in_child() -> None:
    """After a fork (RQ's scheduler): release the guard, and let SIGTERM/SIGINT
    act by default until the child installs its own handlers. Inheriting `_catch_stop` would
    make a scheduler forked just as SIGTERM arrived ignore it, and the worker then waited for
    that scheduler forever (found by tests/test_worker.py's SIGTERM test under load)."""
    FORK_GUARD.release()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def main(settings: Settings) -> int:
    from gateway.runtime import build_runtime  # the CLI imports this module for every command

    runtime = build_runtime(settings)
    os.register_at_fork(
        before=FORK_GUARD.acquire,
        after_in_parent=FORK_GUARD.release,
        after_in_child=_in_child,
    )
    stop = threading.Event()
    loop = threading.Thread(
        target=runs_loop,
        name="runs-drain",
        args=(runtime.redis_sync, runtime.engine, settings, stop),
        kwargs={"reports": report_filing(runtime)},
        daemon=True,
    )
    loop.start()
    # RQ waits for jobs with a blocking pop of ~400 s and raises its connection's socket
    # timeout to match. Sharing runtime.redis_sync would either cut those waits at 10 s (RQ
    # then backs off for up to a minute, and replies wait) or let the drain thread hang on a
    # dead Redis for minutes; so RQ gets a client of its own.
    rq_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1.0)
    try:
        work(rq_redis)
    finally:
        rq_redis.close()
        stop.set()
        loop.join(timeout=10)
        runtime.close_sync()
    return 0


class _Worker(SimpleWorker):
    """RQ's worker without a fork per job, sharing `stopping` with `work`: set by SIGTERM/SIGINT,
    also by one that came before RQ installed its own handlers (then the loop ends at its first
    turn). A SIGTERM during a job lets the job finish (warm shutdown); a second one stops it."""

    def __init__(self, *args: Any, stopping: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = stopping

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stopping.set()
        super().request_stop(signum, frame)

    def check_for_suspension(self, burst: bool) -> None:
        if self.stopping.is_set():
            raise StopRequested()
        super().check_for_suspension(burst)

    def _start_scheduler(self, *args: Any, **kwargs: Any) -> None:
        if not self.stopping.is_set():  # told to stop already: no scheduler to stop again
            super()._start_scheduler(*args, **kwargs)

    def stop_scheduler(self) -> None:
        """SIGTERM the scheduler and wait; SIGKILL it if it does not go.

        A SIGTERM that reaches the scheduler in the instant after its fork, before it installs
        its handler, is lost, and RQ would then wait for it forever (the worker never exits).
        The scheduler holds nothing that a kill could lose: its locks expire by themselves.
        """
        process = self.scheduler._process if self.scheduler else None
        if process is None or not process.pid:
            return
        try:
            os.kill(process.pid, signal.SIGTERM)
        except OSError:
            pass
        process.join(SCHEDULER_STOP_SECONDS)
        if process.is_alive():
            log.warning("worker: the scheduler ignored SIGTERM; killing it")
            process.kill()
            process.join()


def work(redis_sync: Redis) -> None:
    """RQ's work loop (with its scheduler) until SIGTERM/SIGINT.

    RQ 3 leaves its loop on a Redis error outside waiting for a job (Redis restarted while a
    job ran, say); the loop is then started again after a pause, instead of the worker exiting.
    """
    stopping = threading.Event()
    while not stopping.is_set():
        _catch_stop(stopping)  # until RQ installs its own handlers
        try:
            _Worker(QUEUES, connection=redis_sync, stopping=stopping).work(with_scheduler=True)
        except RedisError as error:
            log.warning("worker: Redis unavailable (%s)", type(error).__name__)
        if stopping.is_set():
            return
        log.warning("worker: RQ's loop ended without a stop request; restarting it in %g s",
                    RESTART_PAUSE_SECONDS)
        _catch_stop(stopping)  # RQ's handlers would raise here
        stopping.wait(RESTART_PAUSE_SECONDS)


def _catch_stop(stopping: threading.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())


def runs_loop(
    redis_sync: Redis,
    engine: Engine,
    settings: Settings,
    stop: threading.Event,
    *,
    reports: Filing | None = None,
) -> None:
    """Drain and sweep every `runs.drain_interval_seconds` until `stop` is set; then drain once.

    The SMS outbox is swept (gateway.outbox.sweep_outbox) every `outbox.sweep_interval_seconds`.
    """
    interval = settings.runs.drain_interval_seconds
    window = settings.ussd.resume_window_seconds
    sms_ttl = settings.sms.session_ttl_seconds
    next_sweep = 0.0
    while not stop.is_set():
        with FORK_GUARD:
            run_once(redis_sync, engine, window, sms_ttl, reports=reports)
            if time.monotonic() >= next_sweep:
                sweep_once(redis_sync, engine, settings)
                next_sweep = time.monotonic() + settings.outbox.sweep_interval_seconds
        stop.wait(min(interval, settings.outbox.sweep_interval_seconds))
    run_once(redis_sync, engine, window, sms_ttl, reports=reports)


def run_once(
    redis_sync: Redis,
    engine: Engine,
    window: int,
    sms_ttl: int | None = None,
    *,
    reports: Filing | None = None,
) -> None:
    try:
        sweep_expired(redis_sync, time.time(), window)
        if sms_ttl is not None:  # SMS sessions past sms.session_ttl_seconds: incomplete
            sweep_expired_sms(redis_sync, time.time(), sms_ttl)
        drain_outbox(redis_sync, engine, reports=reports)
    except Exception:  # keep the loop alive through Redis blips; the next tick retries
        log.exception("runs: drain/sweep failed")


def sweep_once(redis_sync: Redis, engine: Engine, settings: Settings) -> None:
    """Sweep the outbox and start overdue broadcasts, unless another worker did in this
    interval: one sweep per `outbox.sweep_interval_seconds` however many workers run. (During
    a long broadcast each sweep reads and touches up to 500 waiting rows; every worker doing it
    each interval multiplied those writes for nothing.)"""
    from gateway.broadcasts.launch import start_overdue

    if not _sweep_turn(redis_sync, settings.outbox.sweep_interval_seconds):
        return
    try:
        sweep_outbox(engine, redis_sync, settings)
    except Exception:  # Redis or the database away: the next sweep retries
        log.exception("outbox: sweep failed")
    try:  # a scheduled broadcast whose start job Redis lost starts anyway
        start_overdue(engine, redis_sync, settings)
    except Exception:
        log.exception("broadcasts: overdue start failed")


def _sweep_turn(redis_sync: Redis, interval: float) -> bool:
    """True for the first worker to ask in each interval (a Redis key that expires a little
    before the next sweep is due). With Redis down, every worker sweeps: the sweep itself
    copes, and it is then the only thing that re-enqueues work."""
    try:
        return bool(redis_sync.set(SWEEP_KEY, os.getpid(), nx=True,
                                   px=max(1, int(interval * 1000 * SWEEP_KEY_SHARE))))
    except RedisError:
        return True


def report_filing(runtime: Runtime) -> Filing:
    """Finished runs of report flows become reports as they are drained (gateway.reports)."""
    from gateway.areas import load_tree
    from gateway.reports.service import Filing, ReportContext

    settings = runtime.settings
    context = ReportContext(settings, runtime.texts, load_tree(settings.reports.areas_file or None))
    return Filing.of(context, runtime.flows)
