"""The emulator's configuration and its running state (records, faults, outgoing HTTP)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from gateway.config import (
    DEV_AT_API_KEY,
    DEV_AT_USERNAME,
    DEV_TWILIO_ACCOUNT_SID,
    DEV_TWILIO_AUTH_TOKEN,
    EMULATOR_TWILIO_NUMBER,
)
from gateway.emulator.faults import FaultBook
from gateway.emulator.store import MessageStore

if TYPE_CHECKING:
    from gateway.config import Settings

log = logging.getLogger("gateway.emulator")

AT_DEFAULT_SENDER = "AFRICASTKNG"  # what AT sends from when no `from` is given
AT_SHORTCODE = "20384"  # the shortcode a citizen texts when africastalking.sender_id is unset
POST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class EmulatorConfig:
    """Who may call the emulator (the credentials the gateway sends with) and where it posts."""

    at_username: str
    at_api_key: str
    twilio_account_sid: str
    twilio_auth_token: str
    gateway_url: str
    messages_path: Path
    public_url: str | None = None  # Twilio signs this URL + path when set (as Twilio would)
    deliver_reports: bool = True
    report_delay_seconds: float = 0.2
    webhook_token: str = ""  # appended as ?token= to AT webhooks, like the URL set at AT
    at_shortcode: str = AT_SHORTCODE
    twilio_number: str = EMULATOR_TWILIO_NUMBER

    @classmethod
    def from_settings(cls, settings: Settings, **changes: Any) -> EmulatorConfig:
        config = cls(
            at_username=settings.at_username or DEV_AT_USERNAME,
            at_api_key=settings.at_api_key or DEV_AT_API_KEY,
            twilio_account_sid=settings.twilio_account_sid or DEV_TWILIO_ACCOUNT_SID,
            twilio_auth_token=settings.twilio_auth_token or DEV_TWILIO_AUTH_TOKEN,
            gateway_url=settings.emulator.gateway_url.rstrip("/"),
            messages_path=Path(settings.emulator.messages_path),
            public_url=settings.public_url,
            deliver_reports=settings.emulator.deliver_reports,
            report_delay_seconds=settings.emulator.report_delay_seconds,
            webhook_token=settings.sms.webhook_token,
            at_shortcode=settings.africastalking.sender_id or AT_SHORTCODE,
            twilio_number=(settings.twilio.numbers or (EMULATOR_TWILIO_NUMBER,))[0],
        )
        return replace(config, **changes)

    def gateway(self, path: str) -> str:
        """Where to post `path` on the gateway."""
        return self.gateway_url.rstrip("/") + path

    def signed(self, path: str) -> str:
        """The URL Twilio would have been configured with, and signs."""
        return (self.public_url or self.gateway_url).rstrip("/") + path


class Emulator:
    """Shared by the routes through `request.app.state.emulator`."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = MessageStore(config.messages_path)
        self.faults = FaultBook()
        self.calls: Counter[str] = Counter()  # send requests per provider
        self.http = httpx.AsyncClient(timeout=POST_TIMEOUT_SECONDS)
        self._tasks: set[asyncio.Task[Any]] = set()

    def later(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background (delivery reports), logging any failure."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator background task failed", exc_info=task.exception())

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.aclose()
        self.store.close()
