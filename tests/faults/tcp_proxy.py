"""A small TCP proxy in front of a server (the database), which a test can cut and restore.

    proxy = TcpProxy("127.0.0.1", 5432)   # listens on proxy.port, forwards to the server
    proxy.cut()            # live connections closed, new ones refused (the host is down)
    proxy.cut(hang=True)   # live connections closed, new ones accepted and never answered
                           # (a black hole: the worst case for a client without a timeout)
    proxy.restore()        # forwards again, on the same port

Plain threads: a test has a handful of connections (each process's pool), not thousands.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

ACCEPT_POLL_SECONDS = 0.05
CHUNK = 65536


@dataclass(eq=False)
class _Pair:
    client: socket.socket
    upstream: socket.socket | None = None

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class TcpProxy:
    target_host: str
    target_port: int
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, chosen at start
    mode: str = "forward"  # "forward" | "refuse" | "hang"
    connections: int = 0  # accepted so far, for the test's figures
    _listener: socket.socket | None = None
    _pairs: list[_Pair] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listen()
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()

    # --- what a test does ----------------------------------------------------------------------

    def cut(self, *, hang: bool = False) -> None:
        """Close every live connection; refuse new ones, or with `hang` accept and ignore them."""
        with self._lock:
            self.mode = "hang" if hang else "refuse"
            if not hang:
                self._close_listener()
            elif self._listener is None:
                self._listen()  # on the same port: connections are accepted, then ignored
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()

    def restore(self) -> None:
        """Forward again; connections held by a hang are closed (their clients gave up)."""
        with self._lock:
            self.mode = "forward"
            if self._listener is None:
                self._listen()
            held = [pair for pair in self._pairs if pair.upstream is None]
            self._pairs = [pair for pair in self._pairs if pair.upstream is not None]
        for pair in held:
            pair.close()

    def close(self) -> None:
        self._stopped.set()
        self.cut()

    # --- inside --------------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        listener.settimeout(ACCEPT_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()  # the port refuses connections from now on
            self._listener = None

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                self._stopped.wait(ACCEPT_POLL_SECONDS)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            client.settimeout(None)
            self._take(client)

    def _take(self, client: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            pair = _Pair(client)
            self._pairs.append(pair)
            if self.mode != "forward":  # "hang": hold it, never answer; "refuse": a late one
                if self.mode == "refuse":
                    self._pairs.remove(pair)
                    pair.close()
                return
        try:
            upstream = socket.create_connection((self.target_host, self.target_port), timeout=5)
        except OSError:
            self._drop(pair)
            return
        upstream.settimeout(None)
        with self._lock:
            if pair not in self._pairs:  # cut while connecting
                upstream.close()
                return
            pair.upstream = upstream
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair: _Pair) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        pair.close()
