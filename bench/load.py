"""The load generator: simulated citizens posting Africa's Talking forms, run as its own process.

    .venv/bin/python bench/load.py ussd --url http://127.0.0.1:8000 --citizens 2000 --connections 32
    .venv/bin/python bench/load.py ussd --citizens 200 --connections 200 --think 1   # people's pace
    .venv/bin/python bench/load.py ussd --path /bench/baseline ...   # the same forms, trivial route
    .venv/bin/python bench/load.py sms --citizens 500 --connections 32

It prints one JSON object: requests, seconds, requests per second, client-side latency
percentiles (ms) and the status codes seen. A USSD citizen walks the whole budget poll
(`--walk`), one hop per request, like a handset behind Africa's Talking: `text` carries every
input so far joined by `*`. An SMS citizen texts POLL and then answers each question, each
message with its own provider id (so none is a duplicate). With `--path` pointing at another
route the same bodies are sent in the same order, and the replies are not checked.

HTTP/1.1 keep-alive over raw asyncio streams, bodies encoded once per request and nothing else:
Python's HTTP clients cost more CPU per request than the server under test, and on a 2-core
machine the client shares the cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

# English happy paths: (service code, inputs after the first hop).
WALKS: dict[str, tuple[str, list[str]]] = {
    # flows/budget.toml: language, priority (page 2), age, ward, comment, send
    "budget": ("*384*1#", ["1", "98", "7", "3", "2", "0", "1"]),
    # flows/report.toml: language, new report, water, Kisumu, Kisumu Central, first ward,
    # no landmark, a description, submit
    "report": ("*384*2#", ["1", "1", "1", "1", "3", "1", "0", "The tap is dry", "1"]),
    # flows/report.toml: language, My reports (a fresh phone has none: the END says so)
    "mine": ("*384*2#", ["1", "2"]),
}
# The budget poll over SMS: the keyword starts it in English; then priority, age, ward,
# no comment, send.
SMS_ANSWERS = ["POLL", "1", "3", "2", "0", "1"]
SHORTCODE = "22384"
USSD_PATH = "/ussd/africastalking"
SMS_PATH = "/sms/africastalking"


class Mismatch(Exception):
    """The server answered something a citizen on this walk would not see."""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: int = 0  # 200s whose text was not what this step of the walk expects


class Connection:
    """One keep-alive HTTP/1.1 connection; `post` sends a form and reads the whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.host.encode(), len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


class Pool:
    """`size` open connections shared by every citizen: at most `size` requests in flight."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.all: list[Connection] = []

    async def open(self) -> None:
        for _ in range(self.size):
            connection = await Connection.open(self.host, self.port)
            self.all.append(connection)
            self.idle.put_nowait(connection)

    async def post(self, path: str, body: bytes, tally: Tally) -> tuple[int, bytes]:
        connection = await self.idle.get()
        started = time.perf_counter()
        try:
            status, reply = await connection.post(path, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            connection.close()  # the server dropped it: count a failure, carry on with a new one
            connection = await Connection.open(self.host, self.port)
            status, reply = 599, b""
        tally.latencies.append(time.perf_counter() - started)
        tally.statuses[status] += 1
        self.idle.put_nowait(connection)
        return status, reply

    def close(self) -> None:
        for connection in self.all:
            connection.close()


class Phones:
    """A different Kenyan mobile number per citizen: no remembered language, no open run.

    Consecutive numbers from a random start, so two runs against one Redis do not meet."""

    def __init__(self) -> None:
        self.next = random.SystemRandom().randrange(10**8 - 10**6)

    def __call__(self) -> str:
        self.next += 1
        return f"+2547{self.next:08d}"


def ussd_bodies(code: str, answers: list[str], phone: str) -> Iterator[bytes]:
    """Africa's Talking's hops for one walk: `text` is every input so far, joined by `*`."""
    session = "ATUid_" + uuid.uuid4().hex
    typed: list[str] = []
    for answer in [None, *answers]:
        if answer is not None:
            typed.append(answer)
        yield urlencode({"sessionId": session, "serviceCode": code, "phoneNumber": phone,
                         "networkCode": "63902", "text": "*".join(typed)}).encode()


def sms_bodies(phone: str) -> Iterator[bytes]:
    """Africa's Talking's inbound SMS webhooks for one citizen answering the poll by SMS."""
    for text in SMS_ANSWERS:
        yield urlencode({"from": phone, "to": SHORTCODE, "text": text,
                         "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                         "id": uuid.uuid4().hex, "linkId": "", "networkCode": "63902"}).encode()


def expected_ussd(steps: int) -> Callable[[int, bytes], bool]:
    """CON on every hop of the walk but the last, which ENDs."""
    return lambda i, reply: reply.startswith(b"END " if i == steps else b"CON ")


async def citizen(
    pool: Pool, path: str, bodies: Iterator[bytes], think: float, rng: random.Random,
    tally: Tally, check: Callable[[int, bytes], bool] | None, hops: int | None = None,
) -> None:
    for i, body in enumerate(bodies):
        if hops is not None and i >= hops:
            return  # walks away mid-flow: the session stays open in Redis
        if i and think:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))  # people do not type in step
        status, reply = await pool.post(path, body, tally)
        if status != 200:
            return  # the citizen gives up, as a handset would on an error
        if check is not None and not check(i, reply):
            tally.wrong += 1
            return


async def run(args: argparse.Namespace) -> dict[str, object]:
    target = urlsplit(args.url)
    pool = Pool(target.hostname or "127.0.0.1", target.port or 80, args.connections)
    await pool.open()
    rng = random.Random(args.seed)
    fresh_phone = Phones()
    tally = Tally()
    if args.mode == "ussd":
        code, answers = WALKS[args.walk]
        path = args.path or USSD_PATH
        check = expected_ussd(len(answers)) if path == USSD_PATH else None

        def bodies() -> Iterator[bytes]:
            return ussd_bodies(code, answers, fresh_phone())
    else:
        path = args.path or SMS_PATH
        check = None

        def bodies() -> Iterator[bytes]:
            return sms_bodies(fresh_phone())

    started = time.perf_counter()
    ramp = args.think / max(args.citizens, 1)  # people's-pace citizens arrive over one think

    async def one(i: int) -> None:
        if ramp:
            await asyncio.sleep(i * ramp)
        for walk in range(args.rounds):  # the next person on this line dials in turn
            if walk and args.think:
                await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))
            await citizen(pool, path, bodies(), args.think, rng, tally, check, args.hops)

    await asyncio.gather(*(one(i) for i in range(args.citizens)))
    elapsed = time.perf_counter() - started
    pool.close()
    return summary(tally, elapsed)


def summary(tally: Tally, elapsed: float) -> dict[str, object]:
    ordered = sorted(tally.latencies)

    def pct(p: float) -> float:
        if not ordered:
            return float("nan")
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

    return {
        "requests": len(ordered),
        "seconds": round(elapsed, 3),
        "per_second": round(len(ordered) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else float("nan"),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "wrong_screens": tally.wrong,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["ussd", "sms"])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--path", help="post to this route instead (the baseline)")
    parser.add_argument("--walk", choices=sorted(WALKS), default="budget")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--connections", type=int, default=32,
                        help="keep-alive connections, i.e. requests in flight at most")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds between a citizen's hops (jittered ±50%%)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="walks per citizen, one after the other (each a new phone)")
    parser.add_argument("--hops", type=int,
                        help="stop after this many hops, leaving the session open")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
