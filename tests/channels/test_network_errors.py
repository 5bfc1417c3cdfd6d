"""Which network failures may hide a sent SMS: only a connection never opened proves none left."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from gateway.channels.base import network_error


@pytest.fixture
def hangs_up_after_reading() -> Iterator[str]:
    """A provider that reads the whole request, then drops the connection without answering."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/version1/messaging"
    finally:
        server.close()


def failure(url: str) -> requests.RequestException:
    try:
        requests.post(url, data={"to": "+254711000001", "message": "Asante"}, timeout=5)
    except requests.RequestException as error:
        return error
    raise AssertionError("the request succeeded")


def test_a_connection_dropped_after_the_request_may_have_sent_it(hangs_up_after_reading):
    error = network_error(failure(hangs_up_after_reading))

    assert error.reason.startswith("connection failed") and not error.permanent
    assert error.maybe_sent  # the outbox asks the provider, or marks it unknown: never resends


def test_a_refused_connection_sent_nothing():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = network_error(failure(f"http://127.0.0.1:{port}/version1/messaging"))

    assert error.reason.startswith("connection failed") and not error.maybe_sent
