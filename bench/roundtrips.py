"""Redis round-trips of one process, counted on the wire by Redis itself.

While a `Monitor` is open, Redis's MONITOR reports every command it executes with the client's
address. A command of the web process is one from a TCP port that process owns (its socket
inodes in /proc/PID/fd, matched in /proc/net/tcp); commands run inside a Lua script are reported
as client "lua" and are not round-trips. The gateway never pipelines on the hop path, so one
command is one round-trip; the count per command name is kept so a reader can check.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import redis

STOP_WORD = "bench-roundtrips-stop"


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of `pid`'s sockets (its Redis connections among them)."""
    inodes = socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[9]) in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class Monitor:
    """Collects (client port, command name) for every command Redis runs until `stop()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[str, int, str]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("MONITOR did not start")
        return self

    def stop(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.echo(STOP_WORD)
        finally:
            client.close()
        self._thread.join(30)

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            with client.monitor() as monitor:
                self._ready.set()
                for command in monitor.listen():
                    text = command["command"]
                    if STOP_WORD in text:
                        return
                    name = text.split(" ", 1)[0].upper()
                    self.seen.append((command.get("client_type", ""),
                                      int(command.get("client_port") or 0), name))
        finally:
            client.close()

    def commands_of(self, ports: set[int]) -> Counter[str]:
        """Commands sent by clients on these local ports (Lua's own calls left out)."""
        return Counter(name for kind, port, name in self.seen
                       if kind != "lua" and port in ports)
