"""Serving the emulator: in the foreground (`gateway emulator`) or on a thread (tests).

In a test::

    config = EmulatorConfig.from_settings(settings, messages_path=tmp_path / "sent.jsonl")
    with running(config) as url:          # a free port on 127.0.0.1
        settings = with_emulator(settings, url)   # both providers now send to it
        ...
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import uvicorn
from starlette.types import ASGIApp

from gateway.emulator.app import create_app
from gateway.emulator.state import EmulatorConfig

if TYPE_CHECKING:
    from gateway.config import Settings

START_TIMEOUT_SECONDS = 10.0


def serve(config: EmulatorConfig, host: str, port: int) -> None:
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_config=None,  # keep our root handlers, which mask phone numbers
        timeout_graceful_shutdown=5,
    )


@contextmanager
def running(config: EmulatorConfig, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the emulator on a free port in a thread; yields its base URL, stops on exit."""
    with serve_in_thread(create_app(config), host) as url:
        yield url


@contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve any ASGI app (the emulator, the gateway, a test receiver) on a free port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_SECONDS)
        sock.close()


def with_emulator(settings: Settings, url: str) -> Settings:
    """`settings` with both providers' api_url pointed at an emulator at `url`."""
    return replace(
        settings,
        africastalking=replace(settings.africastalking, api_url=url),
        twilio=replace(settings.twilio, api_url=url),
    )


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
