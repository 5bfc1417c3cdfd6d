"""`gateway emulator` and `gateway run` as real processes.

The emulator's JSONL file lets this test process count exactly what another process accepted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from emulator_support import REPO, sms_settings

from gateway.channels import africastalking as at
from gateway.channels import twilio
from gateway.channels.base import OutgoingSms
from gateway.emulator.client import EmulatorClient
from gateway.emulator.server import with_emulator
from gateway.emulator.store import read_messages

pytestmark = pytest.mark.slow
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    names = ("GATEWAY_", "REDIS_URL", "DATABASE_URL", "AT_USERNAME", "AT_API_KEY", "TWILIO_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(names)}, **extra}


def wait_until(
    check: Callable[[], T], what: str, process: subprocess.Popen[str], timeout: float = 30
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process exited early:\n{process.communicate()[0]}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s")


@pytest.fixture
def stop_after() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_gateway_emulator_records_every_message_for_another_process(
    tmp_path: Path, stop_after: list[subprocess.Popen[str]]
) -> None:
    port, path = free_port(), tmp_path / "count" / "sent.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "emulator", "--port", str(port), "--messages",
         str(path), "--no-reports"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    stop_after.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(url + "/").status_code == 200, "no answer", process)
    settings = with_emulator(sms_settings(tmp_path), url)
    numbers = [f"+2547110001{n:02d}" for n in range(25)]

    at_results = at.send_sms(settings, [OutgoingSms(i, n, "bulk") for i, n in enumerate(numbers)])
    twilio_results = twilio.send_sms(settings, [OutgoingSms(100 + i, n, f"reply {i}")
                                                for i, n in enumerate(numbers[:5])])  # fmt: skip
    recorded = read_messages(path)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)

    sent = [r.provider_id for r in at_results + twilio_results]
    counts = Counter(m["id"] for m in recorded)
    print(f"sent={len(sent)} recorded={len(recorded)} unique={len(counts)}")
    assert len(recorded) == len(sent) == 30
    assert sorted(counts) == sorted(sent) and set(counts.values()) == {1}
    assert Counter(m["text"] for m in recorded)["bulk"] == 25
    assert process.returncode in (0, -signal.SIGTERM), output  # uvicorn re-raises the signal
    assert "Application shutdown complete" in output
    assert f"emulator: http://127.0.0.1:{port}" in output and "Traceback" not in output


def test_gateway_run_starts_the_emulator_and_messages_flow(
    tmp_path: Path, stop_after: list[subprocess.Popen[str]]
) -> None:
    """A new user with nothing configured: dial, text POLL, and see the reply leave."""
    shutil.copy(REPO / "settings.toml", tmp_path)
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    port, emulator_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run"],
        cwd=tmp_path,
        env=clean_env(GATEWAY_APP_PORT=str(port), GATEWAY_EMULATOR_PORT=str(emulator_port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    stop_after.append(process)
    gateway = f"http://127.0.0.1:{port}"
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    wait_until(lambda: httpx.get(gateway + "/healthz").status_code == 200, "no health", process)
    wait_until(lambda: httpx.get(emulator_url + "/").status_code == 200, "no emulator", process)

    with EmulatorClient(emulator_url) as emulator:
        screen = emulator.ussd("", phone="+254711000077", code="*384*1#")
        texted = emulator.sms("POLL", sender="+254711000078")
        replies = wait_until(
            lambda: emulator.messages(to="+254711000078"), "no reply was sent", process
        )
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)

    assert screen.status == 200 and screen.body.startswith("CON ")
    assert texted.status == 200
    assert replies[0]["provider"] == "africastalking"
    assert read_messages(tmp_path / "var" / "emulator" / "messages.jsonl")[0]["to"] == (
        "+254711000078"
    )
    assert f"emulator: http://127.0.0.1:{emulator_port} stands in for" in output
    assert process.returncode == 0, output
    assert "Traceback" not in output
