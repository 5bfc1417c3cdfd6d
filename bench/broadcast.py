"""Benchmark 3 (broadcast) and the broadcast half of 5 (how cost grows), for `make bench`.

    .venv/bin/python bench/broadcast.py                       # starts what it needs, ~3 min
    .venv/bin/python bench/broadcast.py --redis-url URL --database-url URL --emulator-url URL \\
        [--scale 1,4,16] [--workers 1,2,4] [--base 6250] [--replies 200]

What it measures, each against a baseline taken in the same run:

- **Enqueue**: a poll invite to 100,000 seeded contacts (16 x --base) through the staff launch's
  own code path (gateway.broadcasts.launch: create, commit, after_commit, which enqueues the RQ
  jobs). Baseline: one COPY of the same 100,000 rows into a scratch copy of the
  outbound_message table (same columns, indexes and unique keys) with the same driver: the
  fastest the database takes them.
- **Drain**: SMS/s from the first claim to the last invite the emulator recorded, with 1, 2 and 4
  `gateway worker` processes (at 4 x --base recipients, then 16 x with the most workers), and
  that each recipient got the invite exactly once. Baseline: the emulator's rate for the same
  batched calls made by one process straight through the africastalking SDK.
- **Replies while it drains**: --replies replies to citizens (queue_message, kind "reply",
  priority high) spread over the 100,000-invite drain, each timed from queueing to the emulator
  recording it. Baseline: the same replies with idle workers and no broadcast. Every other
  drain carries replies at the same rate per invite, so all drains compare alike.
- **How cost grows**: enqueue time, drain time and worker CPU per message at 1x, 4x and 16x.

The throttle (outbox.africastalking_per_second, 50/s by default: the rate an Africa's Talking
account is allowed) is raised for the run, so the drain shows what the gateway itself can do.

Stdout is ONE JSON object: {"section": "broadcast", "rows": [...], "notes": [...]}; each row
has name, value, unit, baseline, baseline_unit, ratio, goal, met (None where a row has no goal)
and notes. Progress goes to stderr. Given URLs are used as they are (no other `gateway worker`
may be running against them: it would take the bench's jobs); missing ones are started here.
The emulator's record is cleared before each drain.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from broadcast_data import Contacts, baseline_insert
from broadcast_drain import Bench, Drained, percentile, sdk_baseline
from broadcast_stack import log
from broadcast_stack import stack as servers
from rq import Worker

from gateway.channels.africastalking import MAX_RECIPIENTS
from gateway.config import load_settings
from gateway.db import make_engine
from gateway.outbox import bulk_job_size

GOAL_ENQUEUE_SECONDS = 10.0
GOAL_RATE = 2000.0
GOAL_REPLY_P99_SECONDS = 2.0
FLAT = 1.5  # cost per message at 16x at most this many times the 1x cost counts as flat
THROTTLE = 1_000_000  # messages/s: no throttling during the bench


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    with tempfile.TemporaryDirectory(prefix="gw-bench-broadcast-") as tmp, servers(
        Path(tmp), redis_url=args.redis_url, database_url=args.database_url,
        emulator_url=args.emulator_url,
    ) as stack:
        outbox: dict[str, object] = {"africastalking_per_second": THROTTLE,
                                     "twilio_per_second": THROTTLE}
        if args.batch_size:
            outbox["batch_size"] = args.batch_size
        env = stack.environ(**outbox)
        settings = load_settings(env)
        engine = make_engine(stack.database_url)
        redis_sync = redis.Redis.from_url(stack.redis_url)
        try:
            refuse_foreign_workers(redis_sync)
            contacts = Contacts.make(args.base * max(args.scale), settings.secret_key)
            bench = Bench(stack, settings, engine, redis_sync, contacts, env)
            result = measure(bench, args)
        finally:
            redis_sync.close()
            engine.dispose()
    print(json.dumps(result))
    return 0


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--emulator-url")
    parser.add_argument("--scale", type=_ints, default=[1, 4, 16],
                        help="load multiples of --base (default 1,4,16)")
    parser.add_argument("--workers", type=_ints, default=[1, 2, 4],
                        help="worker counts for the drain rate (default 1,2,4)")
    parser.add_argument("--base", type=int, default=6250, help="recipients at 1x (default 6250)")
    parser.add_argument("--sweep-scale", type=int, default=4,
                        help="the scale at which each worker count drains (default 4)")
    parser.add_argument("--batch-size", type=int,
                        help="outbox.batch_size for the run (default: the setting's)")
    parser.add_argument("--replies", type=int, default=200,
                        help="replies to citizens queued during the largest drain")
    return parser.parse_args(argv)


def _ints(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


def refuse_foreign_workers(redis_sync: redis.Redis) -> None:
    """Another `gateway worker` on this Redis would take the bench's jobs (and could not read
    its numbers): the runner must stop its own first."""
    others = Worker.all(connection=redis_sync)
    if others:
        raise SystemExit(f"broadcast: {len(others)} RQ worker(s) already run against this Redis; "
                         "stop them before the broadcast bench")


# --- the measurements --------------------------------------------------------------------------


def measure(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    most, largest = max(args.workers), max(args.scale)
    sweep = args.base * args.sweep_scale
    # Every drain carries replies to citizens at the same rate per invite (--replies in the
    # largest), so the cost per invite compares like with like from 1x to 16x.
    plan = {(sweep, workers) for workers in args.workers}
    plan |= {(args.base * scale, most) for scale in args.scale}
    results: dict[tuple[int, int], Drained] = {}
    insert_seconds, rate, alone = None, GOAL_RATE, []
    for workers in sorted(args.workers):  # one set of workers for all its drains
        with bench.workers(workers) as running:
            for recipients in sorted(r for r, k in plan if k == workers):
                replies = round(args.replies * recipients / (args.base * largest))
                drained = bench.drain(running, recipients, replies=replies, expected_rate=rate)
                _report(drained, bench)
                results[(recipients, workers)] = drained
                rate = drained.rate or rate
                if (recipients, workers) == (args.base * largest, most):
                    log(f"baseline: one COPY of {recipients} rows like the invites")
                    insert_seconds = baseline_insert(bench.engine,
                                                     drained.launched.broadcast_id, recipients)
            if workers == most:
                log(f"baseline: {args.replies} replies with idle workers and no broadcast")
                alone = bench.replies_alone(running, args.replies, interval=0.05)
    batch = min(bulk_job_size(bench.settings, "africastalking"), MAX_RECIPIENTS)
    log(f"baseline: {sweep} messages straight through the SDK, {batch} per call")
    sdk_rate = sdk_baseline(bench.settings, sweep, batch)
    by_workers = {workers: results[(sweep, workers)] for workers in args.workers}
    by_scale = {scale: results[(args.base * scale, most)] for scale in args.scale}
    rows = rows_for(bench, by_workers, by_scale, insert_seconds, alone, sdk_rate)
    return {"section": "broadcast", "rows": rows, "notes": notes(args, bench, batch)}


def _report(drained: Drained, bench: Bench) -> None:
    expected = bench.contacts.numbers[:drained.recipients]
    log(f"{drained.recipients} invites, {drained.workers} worker(s): {drained.rate:,.0f} SMS/s "
        f"({drained.first_to_last:.1f} s from the first claim); {drained.figure(expected)}; "
        f"worker CPU {drained.cpu_seconds:.1f} s; outbox {drained.statuses}")


def rows_for(
    bench: Bench, by_workers: dict[int, Drained],
    by_scale: dict[int, Drained], insert_seconds: float | None, alone: list[float],
    sdk_rate: float,
) -> list[dict[str, Any]]:
    rows = []
    largest = by_scale[max(by_scale)]
    n = f"{largest.recipients:,}"
    enqueue = largest.launched.seconds
    rows.append(row(f"broadcast: enqueue {n} invites (launch path)", enqueue, "s",
                    insert_seconds, "s (COPY of the same rows)", f"< {GOAL_ENQUEUE_SECONDS:g} s",
                    enqueue < GOAL_ENQUEUE_SECONDS,
                    f"{largest.launched.jobs} RQ jobs; {largest.launched.cpu_seconds:.1f} s of "
                    "CPU in the launching process; ratio = launch (choose the audience, write "
                    "the invites, enqueue the jobs) / the database's own floor for writing the "
                    "same rows"))
    for workers, drained in sorted(by_workers.items()):
        rows.append(row(
            f"broadcast: drain {drained.recipients:,} invites, {workers} worker(s)",
            drained.rate, "SMS/s", sdk_rate, "SMS/s (SDK straight, 1 process)",
            f">= {GOAL_RATE:,.0f} SMS/s", drained.rate >= GOAL_RATE,
            drained.figure(bench.contacts.numbers[:drained.recipients])))
    if all(largest is not drained for drained in by_workers.values()):
        rows.append(row(
            f"broadcast: drain {n} invites, {largest.workers} worker(s)", largest.rate, "SMS/s",
            sdk_rate, "SMS/s (SDK straight, 1 process)", f">= {GOAL_RATE:,.0f} SMS/s",
            largest.rate >= GOAL_RATE,
            largest.figure(bench.contacts.numbers[:largest.recipients])))
    every = list({id(d): d for d in [*by_workers.values(), *by_scale.values()]}.values())
    wrong = sum(d.exactly_once(bench.contacts.numbers[:d.recipients])[key]
                for d in every for key in ("lost", "doubled", "strangers"))
    rows.append(row("broadcast: invites lost or doubled, all drains", wrong, "messages",
                    None, "", "0", wrong == 0,
                    f"{sum(d.recipients for d in every):,} invites in {len(every)} drains"))
    during = largest.reply_delays
    rows.append(row(
        f"replies to citizens during the {n} drain: p99", percentile(during, 0.99), "s",
        percentile(alone, 0.99), "s (no broadcast)", f"< {GOAL_REPLY_P99_SECONDS:g} s",
        percentile(during, 0.99) < GOAL_REPLY_P99_SECONDS,
        f"{len(during)} replies, p50 {percentile(during, 0.5):.3f} s (no broadcast: "
        f"p50 {percentile(alone, 0.5):.3f} s); queued -> recorded by the emulator"))
    rows += growth_rows(by_scale)
    rows.append(row(f"worker peak RSS, {n} drain", largest.peak_rss / 2**20, "MiB", None, "",
                    None, None, "VmHWM of the largest worker process (or child)"))
    return rows


def growth_rows(by_scale: dict[int, Drained]) -> list[dict[str, Any]]:
    measures: list[tuple[str, str, Callable[[Drained], float]]] = [
        ("enqueue time per invite", "µs", lambda d: d.launched.seconds / d.recipients * 1e6),
        ("drain time per invite", "µs", lambda d: 1e6 / d.rate if d.rate else float("nan")),
        ("worker CPU per invite", "µs", lambda d: d.cpu_seconds / d.recipients * 1e6),
    ]
    first, rows = min(by_scale), []
    for name, unit, value in measures:
        base = value(by_scale[first])
        for scale, drained in sorted(by_scale.items()):
            if scale == first:
                continue
            measured = value(drained)
            ratio = measured / base if base else float("nan")
            rows.append(row(
                f"broadcast cost growth: {name} at {scale}x ({drained.recipients:,})",
                measured, unit, base, f"{unit} at {first}x", f"flat: <= {FLAT:g}x the {first}x",
                ratio <= FLAT, f"{drained.workers} worker(s)"))
    return rows


def row(name: str, value: float | None, unit: str, baseline: float | None, baseline_unit: str,
        goal: str | None, met: bool | None, notes: str = "") -> dict[str, Any]:
    ratio = value / baseline if value is not None and baseline else None
    return {"name": name, "value": _round(value), "unit": unit, "baseline": _round(baseline),
            "baseline_unit": baseline_unit, "ratio": _round(ratio), "goal": goal, "met": met,
            "notes": notes}


def _round(value: float | None) -> float | None:
    if value is None or value != value:  # NaN: not measured
        return None
    return round(value, 4 if abs(value) < 10 else 1)


def notes(args: argparse.Namespace, bench: Bench, batch: int) -> list[str]:
    return [
        f"Invites go out in send_batch jobs of {batch} (outbox.batch_size, capped at 0.5 s of the "
        "throttle); Africa's Talking gets one HTTP call per job (one text, many recipients). "
        "Workers run jobs in their own process (RQ's SimpleWorker).",
        "The provider throttle (outbox.africastalking_per_second, 50/s by default) is raised to "
        f"{THROTTLE:,}/s for the run: the drain shows the gateway's own capacity, not an "
        "account's allowance.",
        "The drain rate is measured from the first claim (a worker taking the first invites "
        "to send) to the last invite the emulator recorded; the workers start together (RQ "
        "suspended until the launch is committed).",
        f"Each worker count drains {args.base * args.sweep_scale:,} invites; the largest load "
        f"({args.base * max(args.scale):,}) drains with {max(args.workers)} workers. Every drain "
        f"carries replies to citizens, {args.replies} per {args.base * max(args.scale):,} "
        "invites, spread over it.",
        "Client, workers, emulator, Redis and PostgreSQL share the machine's cores: the ratios "
        "are the figures to compare between runs.",
        f"Measured at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
    ]


if __name__ == "__main__":
    sys.exit(main())
