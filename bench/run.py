"""`make bench`: measure the gateway against its goals and print one table.

    .venv/bin/python bench/run.py            # what `make bench` runs (5 to 10 minutes)
    .venv/bin/python bench/run.py --quick    # smaller loads: checks the bench itself works

It starts its own Redis, database, emulator, web and worker (bench/stack.py), drives them with
a load generator in a separate process (bench/load.py), compares each figure with a baseline
measured in the same run on the same server, prints the table and writes bench/RESULTS.md.
Broadcast figures come from bench/broadcast.py, run against the same Redis, database and
emulator. Everything started is stopped at the end, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from procstat import PeakMemory, tree_cpu_seconds
from roundtrips import Monitor, local_ports
from sqlalchemy import func
from sqlmodel import Session, select
from stack import REPO, Stack, StackError
from table import Row, machine, markdown, results_document, verdict

from gateway.db import make_engine
from gateway.models import OutboundMessage
from gateway.sessions import DEADLINES, OUTBOX, OUTBOX_PROCESSING

BENCH = REPO / "bench"
LOAD = BENCH / "load.py"
BROADCAST = BENCH / "broadcast.py"
BASELINE = "/bench/baseline"
COMMAND = "make bench"


@dataclass(frozen=True)
class Sizes:
    """How much load each section sends; `--quick` shrinks everything."""

    saturate_citizens: int = 800      # x 8 hops: the budget poll, start to end
    saturate_connections: int = 32
    throughput_rounds: int = 3        # baseline and hop alternate; the median of each counts
    realistic_citizens: int = 200
    realistic_think: float = 1.0
    realistic_rounds: int = 2
    counted_citizens: int = 100
    memory_sessions: int = 2000
    sms_citizens: int = 150           # x 6 messages: POLL and five answers
    sms_connections: int = 16
    growth: tuple[int, ...] = (50, 200, 800)
    broadcast_timeout: float = 420.0
    broadcast_options: tuple[str, ...] = ()  # bench/broadcast.py's own defaults


QUICK = Sizes(saturate_citizens=100, throughput_rounds=1, realistic_citizens=50,
              realistic_rounds=1, counted_citizens=20, memory_sessions=200, sms_citizens=20,
              growth=(10, 40, 160), broadcast_timeout=180.0,
              broadcast_options=("--base", "500", "--replies", "20"))


@dataclass
class Driven:
    """One load generator run, with what it cost the web process, Redis and the client."""

    result: dict[str, Any]
    web_cpu: float
    redis_cpu: float
    client_cpu: float

    @property
    def requests(self) -> int:
        return int(self.result["requests"])

    @property
    def per_second(self) -> float:
        return float(self.result["per_second"])

    def ms_per_request(self, seconds: float) -> float:
        return seconds / max(self.requests, 1) * 1000

    @property
    def clean(self) -> bool:
        return set(self.result["statuses"]) <= {"200"} and not self.result["wrong_screens"]

    def trouble(self) -> str:
        return f"statuses {self.result['statuses']}, wrong screens {self.result['wrong_screens']}"


class Bench:
    def __init__(self, stack: Stack, sizes: Sizes) -> None:
        self.stack, self.sizes = stack, sizes
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.redis = stack.redis()

    # --- plumbing ---------------------------------------------------------------------------

    def drive(self, mode: str, *, path: str | None = None, citizens: int, connections: int,
              think: float = 0.0, rounds: int = 1, hops: int | None = None) -> Driven:
        command = [sys.executable, str(LOAD), mode, "--url", self.stack.web_url,
                   "--citizens", str(citizens), "--connections", str(connections),
                   "--think", str(think), "--rounds", str(rounds)]
        if path:
            command += ["--path", path]
        if hops is not None:
            command += ["--hops", str(hops)]
        web = self.stack.web
        assert web is not None
        web_before, redis_before = tree_cpu_seconds(web.pid), self.redis_cpu()
        client_before = _children_cpu()
        done = run_to_end(command)
        if done.returncode:
            raise RuntimeError(f"load generator failed: {done.stderr.strip()[-800:]}")
        return Driven(
            result=json.loads(done.stdout.strip().splitlines()[-1]),
            web_cpu=tree_cpu_seconds(web.pid) - web_before,
            redis_cpu=self.redis_cpu() - redis_before,
            client_cpu=_children_cpu() - client_before,
        )

    def redis_cpu(self) -> float:
        info = self.redis.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def settle(self, before: str, timeout: float = 90.0) -> None:
        """Wait until the worker has moved every finished run to SQL: a backlog left by the
        previous section would compete for the CPU with the one about to be measured."""
        started = time.monotonic()
        backlog = waiting = self.redis.llen(OUTBOX) + self.redis.llen(OUTBOX_PROCESSING)
        while waiting and time.monotonic() - started < timeout:
            time.sleep(0.2)
            waiting = self.redis.llen(OUTBOX) + self.redis.llen(OUTBOX_PROCESSING)
        if backlog > 100 or waiting:
            self.notes.append(
                f"Before the {before} section the worker had {backlog} finished runs to store "
                f"in SQL; the runner waited {time.monotonic() - started:.0f} s"
                + (f" and {waiting} were still waiting." if waiting else "."))

    def say(self, text: str) -> None:
        print(f"bench: {text}", file=sys.stderr, flush=True)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.say(f"{row.name}: {row.value} (baseline {row.baseline}, ratio {row.ratio}, "
                 f"goal {row.goal}: {row.verdict})")

    # --- sections ---------------------------------------------------------------------------

    def warm_up(self) -> None:
        for path in (BASELINE, None):
            self.drive("ussd", path=path, citizens=50, connections=16)
        self.drive("sms", citizens=5, connections=4)

    def memory(self) -> None:
        """Redis bytes per open USSD session: citizens leave mid-walk; what their keys take."""
        n = self.sizes.memory_sessions
        before_keys = set(self.redis.scan_iter(count=1000))
        before_memory = int(self.redis.info("memory")["used_memory"])
        before_zset = int(self.redis.memory_usage(DEADLINES) or 0)
        driven = self.drive("ussd", citizens=n, connections=32, hops=3)
        after_memory = int(self.redis.info("memory")["used_memory"])
        # the citizens' own keys (not RQ's, not the shared deadline set: counted as its growth)
        new_keys = [k.decode() for k in self.redis.scan_iter("gw:*", count=1000)
                    if k not in before_keys and k.decode() != DEADLINES]
        by_kind: dict[str, int] = {}
        for key in new_keys:
            kind = ":".join(key.split(":")[:2])
            by_kind[kind] = by_kind.get(kind, 0) + int(self.redis.memory_usage(key) or 0)
        by_kind[DEADLINES] = int(self.redis.memory_usage(DEADLINES) or 0) - before_zset
        per_session = sum(by_kind.values()) / n
        parts = ", ".join(f"{kind} {total / n:.0f}" for kind, total in sorted(by_kind.items()))
        self.add(Row(
            f"Redis bytes per open USSD session ({n} citizens stopped after 3 hops; "
            "MEMORY USAGE of their keys)",
            f"{per_session:.0f} B ({parts}; used_memory grew "
            f"{(after_memory - before_memory) / n:.0f} B a session)",
            goal="≤ 1024 B", verdict=verdict(per_session <= 1024 and driven.clean),
        ))
        if not driven.clean:
            self.notes.append(f"Memory walk had trouble: {driven.trouble()}.")

    def throughput(self) -> None:
        s = self.sizes
        bases, reals = [], []
        for _ in range(s.throughput_rounds):
            bases.append(self.drive("ussd", path=BASELINE, citizens=s.saturate_citizens,
                                    connections=s.saturate_connections))
            reals.append(self.drive("ussd", citizens=s.saturate_citizens,
                                    connections=s.saturate_connections))
        base, real = _median(bases), _median(reals)
        ratio = real.per_second / base.per_second
        self.add(Row(
            f"USSD max throughput: {s.saturate_citizens} citizens walk the budget poll "
            f"(8 hops) over {s.saturate_connections} connections, median of "
            f"{s.throughput_rounds}",
            f"{real.per_second:.0f} hops/s (p99 {real.result['p99_ms']:.0f} ms)",
            f"{base.per_second:.0f} req/s (p99 {base.result['p99_ms']:.0f} ms)",
            f"{ratio:.2f}", "≥ 0.60", verdict(ratio >= 0.60 and real.clean),
        ))
        web_real, web_base = real.ms_per_request(real.web_cpu), base.ms_per_request(base.web_cpu)
        self.add(Row(
            "  web process CPU per request in that run",
            f"{web_real:.3f} ms", f"{web_base:.3f} ms", f"{web_base / web_real:.2f}",
        ))
        self.add(Row(
            "  Redis CPU / load generator CPU per request in that run",
            f"{real.ms_per_request(real.redis_cpu):.3f} ms / "
            f"{real.ms_per_request(real.client_cpu):.3f} ms",
            f"{base.ms_per_request(base.redis_cpu):.3f} ms / "
            f"{base.ms_per_request(base.client_cpu):.3f} ms",
        ))
        for each in reals:
            if not each.clean:
                self.notes.append(f"Throughput walk had trouble: {each.trouble()}.")

    def latency(self) -> None:
        s = self.sizes
        before = self.hop_histogram()
        real = self.drive("ussd", citizens=s.realistic_citizens,
                          connections=s.realistic_citizens, think=s.realistic_think,
                          rounds=s.realistic_rounds)
        server = _bucket_quantiles(before, self.hop_histogram(), (0.5, 0.99))
        base = self.drive("ussd", path=BASELINE, citizens=s.realistic_citizens,
                          connections=s.realistic_citizens, think=s.realistic_think,
                          rounds=s.realistic_rounds)
        p99 = float(real.result["p99_ms"])
        self.add(Row(
            f"USSD latency, {s.realistic_citizens} concurrent citizens, ~{s.realistic_think:g} s "
            f"between hops ({real.requests} hops, client-side)",
            _percentiles(real.result), _percentiles(base.result),
            f"p99 {p99 / float(base.result['p99_ms']):.2f}", "p99 < 20 ms",
            verdict(p99 < 20 and real.clean),
        ))
        self.add(Row(
            "  the same hops timed inside the server (Prometheus histogram buckets)",
            f"p50 ≤ {server[0]}, p99 ≤ {server[1]}",
        ))
        if not real.clean:
            self.notes.append(f"Latency walk had trouble: {real.trouble()}.")

    def round_trips(self) -> None:
        web = self.stack.web
        assert web is not None
        monitor = Monitor(self.stack.redis_url).start()
        try:
            driven = self.drive("ussd", citizens=self.sizes.counted_citizens, connections=16)
            ports = local_ports(web.pid)
        finally:
            monitor.stop()
        counted = monitor.commands_of(ports)
        per_hop = sum(counted.values()) / driven.requests
        detail = ", ".join(f"{name} {n / driven.requests:.2f}" for name, n in counted.most_common())
        self.add(Row(
            f"Redis round-trips per USSD hop, counted by Redis MONITOR for the web process "
            f"({driven.requests} hops)",
            f"{per_hop:.2f} ({detail})", goal="≤ 2", verdict=verdict(per_hop <= 2 and driven.clean),
        ))

    def sms(self) -> None:
        s = self.sizes
        engine = make_engine(self.stack.database_url)
        try:
            queued_before = _outbound_count(engine)
            real = self.drive("sms", citizens=s.sms_citizens, connections=s.sms_connections)
            queued = _outbound_count(engine) - queued_before
        finally:
            engine.dispose()
        base = self.drive("sms", path=BASELINE, citizens=s.sms_citizens,
                          connections=s.sms_connections)
        self.add(Row(
            f"Inbound SMS webhooks/s through /sms/africastalking ({real.requests} webhooks over "
            f"{s.sms_connections} connections: dedupe, SQL, {queued} replies queued)",
            f"{real.per_second:.0f}/s (p50 {real.result['p50_ms']:.0f} ms, "
            f"p99 {real.result['p99_ms']:.0f} ms)",
            f"{base.per_second:.0f} req/s", f"{real.per_second / base.per_second:.2f}",
        ))
        self.add(Row(
            "  web process CPU per webhook in that run (the SQL transaction runs in a thread)",
            f"{real.ms_per_request(real.web_cpu):.2f} ms",
            f"{base.ms_per_request(base.web_cpu):.2f} ms",
        ))
        if not real.clean or queued < real.requests:
            self.notes.append(f"SMS webhooks: {real.trouble()}, {queued} replies queued for "
                              f"{real.requests} messages (one reply each expected).")

    def growth(self) -> None:
        levels = self.sizes.growth
        runs = [self.drive("ussd", citizens=n, connections=self.sizes.saturate_connections)
                for n in levels]
        web = [r.ms_per_request(r.web_cpu) for r in runs]
        red = [r.ms_per_request(r.redis_cpu) for r in runs]
        flat = web[-1] / web[0]
        self.add(Row(
            f"USSD cost per hop at 1x / 4x / 16x load ({' / '.join(map(str, levels))} citizens), "
            "web process CPU",
            " / ".join(f"{w:.3f}" for w in web) + " ms",
            ratio=f"16x/1x {flat:.2f}", goal="flat (16x/1x ≤ 1.25)", verdict=verdict(flat <= 1.25),
        ))
        self.add(Row(
            "  Redis CPU per hop, and hops/s, at the same loads",
            " / ".join(f"{r:.3f}" for r in red) + " ms; "
            + " / ".join(f"{r.per_second:.0f}" for r in runs) + " hops/s",
            ratio=f"16x/1x {red[-1] / red[0]:.2f}",
        ))

    def drain_replies(self, timeout: float = 90.0) -> None:
        """Let the worker send the SMS replies, so the broadcast starts on an empty queue."""
        engine = make_engine(self.stack.database_url)
        try:
            deadline = time.monotonic() + timeout
            while _outbound_count(engine, pending=True) and time.monotonic() < deadline:
                time.sleep(0.5)
            left = _outbound_count(engine, pending=True)
        finally:
            engine.dispose()
        if left:
            self.notes.append(f"{left} SMS replies were still queued when the broadcast began.")

    def broadcast(self) -> None:
        if not BROADCAST.exists():
            self.add(Row("Broadcast (bench/broadcast.py)", "not measured",
                          verdict="not measured: bench/broadcast.py is not there yet"))
            return
        command = [sys.executable, str(BROADCAST), "--redis-url", self.stack.redis_url,
                   "--database-url", self.stack.database_url,
                   "--emulator-url", self.stack.emulator_url, *self.sizes.broadcast_options]
        self.say("broadcast: " + " ".join(command[1:2]) + " … (its own workers)")
        try:
            done = run_to_end(command, cwd=REPO, env=self.stack.env(),
                              timeout=self.sizes.broadcast_timeout)
        except subprocess.TimeoutExpired:
            self.add(Row("Broadcast (bench/broadcast.py)", "not measured",
                          verdict=f"not measured: no answer in {self.sizes.broadcast_timeout:g} s"))
            return
        figures = _last_json(done.stdout)
        if done.returncode or figures is None:
            reason = (done.stderr.strip().splitlines() or ["no JSON on stdout"])[-1][:200]
            self.add(Row("Broadcast (bench/broadcast.py)", "not measured",
                          verdict=f"not measured: exit {done.returncode}: {reason}"))
            return
        rows, notes = broadcast_rows(figures)
        for row in rows:
            self.add(row)
        self.notes.extend(f"Broadcast: {note}" for note in notes)

    def hop_histogram(self) -> dict[float, float]:
        text = httpx.get(self.stack.web_url + "/metrics", timeout=5).text
        buckets: dict[float, float] = {}
        for line in text.splitlines():
            if line.startswith("gateway_ussd_hop_seconds_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[-1])
        return buckets


def run_to_end(command: list[str], *, timeout: float | None = None,
               **options: Any) -> subprocess.CompletedProcess[str]:
    """`subprocess.run` capturing text, except that on an interrupt or a time-out the child is
    asked to stop (SIGINT, as Ctrl-C would) and given time to stop what it started itself."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, **options) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except BaseException:
            child.send_signal(signal.SIGINT)
            try:
                child.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
            raise
    return subprocess.CompletedProcess(command, child.returncode, out, err)


def broadcast_rows(figures: dict[str, Any]) -> tuple[list[Row], list[str]]:
    """bench/broadcast.py's JSON ({"rows": [{name, value, unit, baseline, baseline_unit, ratio,
    goal, met, notes}], "notes": [...]}) as table rows and notes."""
    rows, notes = [], [str(n) for n in figures.get("notes") or []]
    for item in figures.get("rows") or []:
        if not isinstance(item, dict):
            continue
        met = item.get("met")
        rows.append(Row(
            str(item.get("name", "?")),
            _with_unit(item.get("value"), item.get("unit")),
            _with_unit(item.get("baseline"), item.get("baseline_unit")),
            "—" if item.get("ratio") is None else f"{item['ratio']:.2f}"
            if isinstance(item["ratio"], float) else str(item["ratio"]),
            str(item.get("goal") or "—"),
            "—" if met is None else verdict(bool(met)),
        ))
        if item.get("notes"):
            notes.append(f"{item.get('name', '?')}: {item['notes']}")
    if not rows:  # not the expected shape: show what came, figure by figure
        rows = [Row(f"broadcast: {key}", json.dumps(value)) for key, value in figures.items()]
    return rows, notes


def _with_unit(value: object, unit: object) -> str:
    if value is None:
        return "—"
    shown = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{shown} {unit}" if unit else shown


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _median(runs: list[Driven]) -> Driven:
    return sorted(runs, key=lambda r: r.per_second)[len(runs) // 2]


def _percentiles(result: dict[str, Any]) -> str:
    return " / ".join(f"p{q} {result[f'p{q}_ms']:.1f}" for q in (50, 95, 99)) + " ms"


def _bucket_quantiles(before: dict[float, float], after: dict[float, float],
                      quantiles: tuple[float, ...]) -> list[str]:
    """The upper bound of the histogram bucket each quantile falls in, for the hops in between."""
    counts = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = counts[-1][1] if counts else 0.0
    found = []
    for q in quantiles:
        bound = next((b for b, n in counts if total and n >= q * total), float("inf"))
        found.append("∞" if bound == float("inf") else f"{bound * 1000:g} ms")
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _outbound_count(engine: Any, *, pending: bool = False) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(OutboundMessage)
        if pending:
            query = query.where(OutboundMessage.status.in_(("queued", "sending")))
        return int(session.exec(query).one())


def _load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small loads, to check the bench")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md",
                        help="where to write the results (default: bench/RESULTS.md)")
    parser.add_argument("--no-broadcast", action="store_true", help="skip bench/broadcast.py")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    started, load_at_start = time.time(), _load_average()
    stack = Stack(REPO / "var" / "bench")
    try:
        with stack:
            stack.start()
            assert stack.web is not None and stack.worker is not None
            peaks = PeakMemory({"web": stack.web.pid, "worker": stack.worker.pid}).start()
            bench = Bench(stack, sizes)
            sections: list[tuple[str, Callable[[], None]]] = [
                ("warm-up", bench.warm_up), ("memory", bench.memory),
                ("latency", bench.latency), ("throughput", bench.throughput),
                ("round-trips", bench.round_trips), ("sms", bench.sms),
                ("growth", bench.growth), ("drain", bench.drain_replies),
            ]
            for name, section in sections:
                bench.settle(name)
                bench.say(f"{name} …")
                section()
            peak = peaks.stop()
            bench.add(Row("Peak resident memory during the run: web process / worker "
                          "(with its children)",
                          f"{peak['web'] / 1024:.0f} MB / {peak['worker'] / 1024:.0f} MB"))
            stack.stop_worker()  # the broadcast bench starts its own workers
            if args.no_broadcast:
                bench.add(Row("Broadcast (bench/broadcast.py)", "not measured",
                              verdict="not measured: --no-broadcast"))
            else:
                bench.say("broadcast …")
                bench.broadcast()
            database = stack.database.kind if stack.database else "?"
    except StackError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finished = time.time()
    print(markdown(bench.rows))
    write_results(args, bench, database, started, finished, load_at_start)
    return 0


def write_results(args: argparse.Namespace, bench: Bench, database: str,
                  started: float, finished: float, load_at_start: str) -> None:
    facts = machine()
    facts["database"] = database
    facts["load average (1, 5, 15 min)"] = (
        f"{load_at_start} at the start, {_load_average()} at the end (what else ran counts)")
    facts["run took"] = f"{(finished - started) / 60:.1f} minutes"
    if args.quick:
        facts["loads"] = "--quick (smaller loads than `make bench`)"
    notes = [
        "Client and server share the machine's cores: the load generator (bench/load.py, raw "
        "asyncio HTTP/1.1 keep-alive, a separate process) uses CPU the server could have "
        "used, for the baseline and the gateway alike. Absolute rates on a shared machine "
        "drift from run to run; the ratios are the figures to compare.",
        "Baseline: POST /bench/baseline on the same uvicorn process, added by bench/serve.py "
        "(never in the production app). It reads the same form with the same `read_form` as "
        "/ussd/africastalking and answers `END ok`. It receives the same bodies in the same "
        "order as the route it is compared with.",
        "Round-trips are counted by Redis: MONITOR lists every command with the client's "
        "address, and the web process's connections are found by their local ports in /proc.",
        "Latency is measured by the load generator, from writing the request to reading the "
        "whole answer; each citizen waits 0.5 to 1.5 s (uniform) between hops.",
        "Before each section the runner waits until the worker has stored every finished run "
        "in SQL, so a backlog from one section does not compete with the next for the CPU.",
        *bench.notes,
    ]
    appendix_path = BENCH / "PROFILE.md"
    appendix = "\n" + appendix_path.read_text() if appendix_path.exists() else ""
    command = COMMAND + (" (bench/run.py --quick)" if args.quick else "")
    document = results_document(
        rows=bench.rows, facts=facts, notes=notes, command=command,
        when=time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)), appendix=appendix)
    args.results.write_text(document)
    print(f"bench: wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
