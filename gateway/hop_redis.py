"""A lean asyncio Redis client for the USSD hop: its MGET and its EVALSHA, pipelined.

Why: redis-py's asyncio client spends about 150 µs of CPU on each command in this process
(connection pool, retry wrapper, event hooks, a timer per read) against about 20 µs for the
same round-trip on a bare asyncio protocol, and a hop makes two; that was half a hop's CPU.

How: one connection per process, opened on first use. A command is queued, and every command
queued in the same event-loop turn leaves in one write; Redis answers in order, so each reply
goes to the oldest waiting command (hiredis parses them). A caller cancelled by its deadline
leaves its place in the queue and its reply is dropped when it comes.

Errors are redis-py's classes, so callers treat both clients alike: `ConnectionError` when
Redis cannot be reached or the connection drops (every waiting command gets it; the next
command reconnects; a command on a connection found dead is sent once more on a new one, as
redis-py's one retry did, which is safe for MGET and for the hop's compare-and-set),
`ResponseError` and its subclasses (`NoScriptError`, `BusyLoadingError`, …) for Redis's error
replies. There is no per-command timeout: the hop's deadline bounds the wait.

`redis://`, `rediss://` (certificate checks on, or `ssl_cert_reqs=none`, `ssl_ca_certs=PATH`)
and `unix://` URLs, with a user, a password and a database number; `supports(url)` says whether
a URL is one of these, else the caller keeps redis-py.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qs, urlsplit

import hiredis
from redis._parsers.base import BaseParser  # redis-py's own error-reply → exception table
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_SECONDS = 0.25
_KNOWN_OPTIONS = {"db", "ssl_cert_reqs", "ssl_ca_certs"}

Arg = str | bytes | int | float


def supports(url: str) -> bool:
    """True when `HopRedis` handles this URL; anything else stays with redis-py."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return False
    return set(parse_qs(parts.query)) <= _KNOWN_OPTIONS


def pack(args: tuple[Arg, ...]) -> bytes:
    """One command in RESP, an array of bulk strings (hiredis's encoder, as redis-py uses)."""
    return hiredis.pack_command(args)


class _Replies(asyncio.Protocol):
    """One connection: writes queued commands, hands each reply to the oldest waiting future."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.outgoing: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport

    def send(self, payload: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise RedisConnectionError("connection to Redis closed")
        future = self.loop.create_future()
        self.waiting.append(future)
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(payload)
        return future

    def _flush(self) -> None:
        if self.outgoing and not self.closed and self.transport is not None:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as error:
                self._fail(RedisConnectionError(f"bad reply from Redis: {error}"))
                if self.transport is not None:
                    self.transport.close()
                return
            if reply is False:
                return
            if not self.waiting:  # a reply nobody asked for: the stream is out of step
                self._fail(RedisConnectionError("unexpected reply from Redis"))
                if self.transport is not None:
                    self.transport.close()
                return
            future = self.waiting.popleft()
            if not future.done():  # done: its caller was cancelled; the reply is dropped
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by Redis'}"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        self.outgoing.clear()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HopRedis:
    """`mget`, `evalsha`, `script_load` and `get`, with redis-py's signatures and errors."""

    def __init__(self, url: str) -> None:
        if not supports(url):
            raise ValueError("HopRedis does not handle this Redis URL; use redis-py")
        self._options = parse_url(url)
        self._tls = urlsplit(url).scheme == "rediss"
        self._replies: _Replies | None = None
        self._lock: asyncio.Lock | None = None

    async def execute(self, *args: Arg) -> Any:
        replies = self._replies
        payload = pack(args)
        if replies is not None and not replies.closed:
            try:
                return _checked(await replies.send(payload))
            except RedisConnectionError:
                if not replies.closed:
                    raise
                # the connection was found dead: send once more on a fresh one, as redis-py did
        replies = await self._connected()
        return _checked(await replies.send(payload))

    # The hop's two commands hand back `execute`'s coroutine: awaited just the same, one
    # coroutine fewer per command.
    def mget(self, keys: list[str]) -> Coroutine[Any, Any, list[bytes | None]]:
        return self.execute("MGET", *keys)

    async def get(self, key: str) -> bytes | None:
        return await self.execute("GET", key)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Arg) -> Coroutine[Any, Any, Any]:
        return self.execute("EVALSHA", sha, numkeys, *keys_and_args)

    async def script_load(self, script: str) -> str:
        sha = await self.execute("SCRIPT", "LOAD", script)
        return sha.decode() if isinstance(sha, bytes) else str(sha)

    async def aclose(self) -> None:
        if self._replies is not None:
            self._replies.close()
            self._replies = None

    async def _connected(self) -> _Replies:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._replies is None or self._replies.closed:
                self._replies = await self._connect()
            return self._replies

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        options = self._options
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                if "path" in options:
                    _, replies = await loop.create_unix_connection(
                        lambda: _Replies(loop), options["path"])
                else:
                    _, replies = await loop.create_connection(
                        lambda: _Replies(loop), options.get("host", "localhost"),
                        options.get("port", 6379), ssl=self._ssl_context())
                try:
                    await self._handshake(replies)
                except BaseException:  # refused, timed out or cancelled: leave no socket open
                    replies.close()
                    raise
        except TimeoutError:
            raise RedisTimeoutError("timed out connecting to Redis") from None
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to Redis: {error}") from None
        return replies

    async def _handshake(self, replies: _Replies) -> None:
        options = self._options
        steps: list[tuple[Arg, ...]] = []
        if options.get("password"):
            user = options.get("username")
            steps.append(("AUTH", user, options["password"]) if user
                         else ("AUTH", options["password"]))
        if int(options.get("db") or 0):
            steps.append(("SELECT", int(options["db"])))
        for step in steps:
            _checked(await replies.send(pack(step)))

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self._tls:
            return None
        context = ssl.create_default_context(cafile=self._options.get("ssl_ca_certs"))
        if str(self._options.get("ssl_cert_reqs", "")).lower() == "none":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _checked(reply: Any) -> Any:
    if isinstance(reply, ResponseError):
        raise BaseParser.parse_error(str(reply))
    return reply
