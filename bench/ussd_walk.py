"""Walk N simulated citizens through a demo flow against a running `gateway web`.

A quick measurement for closing notes, until `make bench` (issue 7) gives the full table:

    .venv/bin/python bench/ussd_walk.py --citizens 2000 --concurrency 50            # saturate
    .venv/bin/python bench/ussd_walk.py --citizens 400 --concurrency 200 --think 1  # people's pace
    .venv/bin/python bench/ussd_walk.py --walk report   # a whole citizen report on *384*2#
    .venv/bin/python bench/ussd_walk.py --walk mine     # *384*2#, "2. My reports" (a SQL read)

It prints hops/s and p50/p95/p99 hop latency as the client sees them (client included).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx

# English happy paths: (service code, inputs after the first hop)
WALKS = {
    # flows/budget.toml: language, priority (page 2), age, ward, comment, send
    "budget": ("*384*1#", ["1", "98", "7", "3", "2", "0", "1"]),
    # flows/report.toml: language, new report, water, Kisumu, Kisumu Central, first ward,
    # no landmark, a description, submit
    "report": ("*384*2#", ["1", "1", "1", "1", "3", "1", "0", "The tap is dry", "1"]),
    # flows/report.toml: language, My reports (a fresh phone has none: the END says so)
    "mine": ("*384*2#", ["1", "2"]),
}
ANSWERS = WALKS["budget"][1]


async def walk(
    client: httpx.AsyncClient, url: str, code: str, latencies: list[float], think: float,
    answers: list[str] = ANSWERS,
) -> None:
    session = uuid.uuid4().hex
    phone = f"+2547{uuid.uuid4().int % 10**8:08d}"
    typed: list[str] = []
    for answer in [None, *answers]:
        if answer is not None:
            typed.append(answer)
            await asyncio.sleep(think)
        form = {"sessionId": session, "serviceCode": code, "phoneNumber": phone,
                "networkCode": "63902", "text": "*".join(typed)}
        started = time.perf_counter()
        reply = await client.post(url, data=form)
        latencies.append(time.perf_counter() - started)
        if reply.status_code != 200 or reply.text.startswith("END"):
            return


async def main(
    url: str, citizens: int, concurrency: int, think: float, walk_name: str = "budget"
) -> None:
    code, answers = WALKS[walk_name]
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one() -> None:
            async with gate:
                await walk(client, f"{url}/ussd/africastalking", code, latencies, think, answers)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(citizens)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    pct = statistics.quantiles(ordered, n=100)
    print(f"walk={walk_name} citizens={citizens} concurrency={concurrency} hops={len(ordered)} "
          f"elapsed={elapsed:.2f}s hops_per_s={len(ordered) / elapsed:.0f}")
    print(f"latency_ms p50={pct[49] * 1000:.1f} p95={pct[94] * 1000:.1f} p99={pct[98] * 1000:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--walk", choices=sorted(WALKS), default="budget")
    parser.add_argument("--think", type=float, default=0.0, help="seconds between a citizen's hops")
    args = parser.parse_args()
    asyncio.run(main(args.url, args.citizens, args.concurrency, args.think, args.walk))
