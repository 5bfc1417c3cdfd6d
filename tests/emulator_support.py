"""Helpers for tests that send through the provider emulator or stand in for the gateway.

- `sms_settings(tmp_path)`: the repo's settings.toml in development, no provider credentials
  (so the emulator's development credentials), data under tmp_path.
- `Emulated`: an emulator served on a thread, its client, and settings pointed at it.
- `Receiver`: a throwaway gateway stand-in that records every POST and answers a fixed text.
- `canned(...)`: a fake provider that answers each call with the next canned response, to reach
  answers the emulator does not produce (every AT statusCode, every Twilio error code).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from gateway.config import Settings, load_settings
from gateway.emulator.client import EmulatorClient
from gateway.emulator.server import running, serve_in_thread, with_emulator
from gateway.emulator.state import EmulatorConfig

REPO = Path(__file__).resolve().parent.parent
KEY = "emulator-test-key-0123456789abcdefghijklmn"


def sms_settings(tmp_path: Path, **env: str) -> Settings:
    environ = {"GATEWAY_SECRET_KEY": KEY, "GATEWAY_APP_VAR_DIR": str(tmp_path / "var"), **env}
    return load_settings(environ, path=REPO / "settings.toml")


@dataclass
class Emulated:
    url: str
    client: EmulatorClient
    settings: Settings  # both providers send to this emulator
    config: EmulatorConfig

    @property
    def messages_path(self) -> Path:
        return self.config.messages_path


@contextmanager
def emulated(settings: Settings, tmp_path: Path, **changes: Any) -> Iterator[Emulated]:
    """An emulator on a free port; delivery reports off unless `deliver_reports=True`."""
    changes = {"messages_path": tmp_path / "sent.jsonl", "deliver_reports": False, **changes}
    config = EmulatorConfig.from_settings(settings, **changes)
    with running(config) as url, EmulatorClient(url) as client:
        yield Emulated(url, client, with_emulator(settings, url), config)


@dataclass
class Posted:
    path: str
    query: str
    url: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class Receiver:
    """Records POSTs; answers `reply` (text/plain), like a gateway endpoint would."""

    reply: str = "OK"
    posts: list[Posted] = field(default_factory=list)

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            form = await request.form()
            self.posts.append(
                Posted(
                    path=request.url.path,
                    query=request.url.query,
                    url=str(request.url),
                    form={k: str(v) for k, v in form.items()},
                    headers=dict(request.headers),
                )
            )
            return PlainTextResponse(self.reply)

        return Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])

    def at(self, path: str) -> list[Posted]:
        return [p for p in self.posts if p.path == path]


@contextmanager
def receiving(reply: str = "OK") -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(reply)
    with serve_in_thread(receiver.app()) as url:
        yield receiver, url


@dataclass
class Canned:
    """A fake provider: each call gets the next (status, body); the requests are kept."""

    answers: list[tuple[int, Any]]
    calls: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            form = await request.form()
            self.calls.append({k: str(v) for k, v in form.items()})
            status, body = self.answers[min(len(self.calls), len(self.answers)) - 1]
            if isinstance(body, str):
                return PlainTextResponse(body, status_code=status)
            return JSONResponse(body, status_code=status)

        return Starlette(routes=[Route("/{path:path}", answer, methods=["POST", "GET"])])


@contextmanager
def canned(*answers: tuple[int, Any]) -> Iterator[tuple[Canned, str]]:
    provider = Canned(list(answers))
    with serve_in_thread(provider.app()) as url:
        yield provider, url
