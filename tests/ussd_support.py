"""Helpers for the USSD tests: AT-shaped forms, a citizen that dials, a Redis round-trip counter."""

from __future__ import annotations

import itertools
import re
from typing import Any

import redis.asyncio as aioredis

BUDGET = "*384*1#"
SURVEY = "*384*3#"
_numbers = itertools.count(1)


def fresh_phone() -> str:
    """A different Kenyan mobile number per call: no remembered language, no open run."""
    return f"+2547{next(_numbers) % 100000000:08d}"


def hop_form(session_id: str, phone: str, text: str, code: str = BUDGET, **extra: str) -> dict:
    return {
        "sessionId": session_id,
        "serviceCode": code,
        "phoneNumber": phone,
        "networkCode": "63902",
        "text": text,
        **extra,
    }


class Citizen:
    """Dials through the HTTP endpoint, typing one input per hop as a handset would."""

    def __init__(self, client: Any, phone: str | None = None, code: str = BUDGET) -> None:
        self.client = client
        self.phone = phone or fresh_phone()
        self.code = code
        self.session_id = ""
        self.typed: list[str] = []

    def dial(self, session_id: str | None = None) -> str:
        self.session_id = session_id or f"ATUid_{next(_numbers)}"
        self.typed = []
        return self._post("")

    def type(self, text: str) -> str:
        self.typed.append(text)
        return self._post("*".join(self.typed))

    def _post(self, text: str) -> str:
        response = self.client.post(
            "/ussd/africastalking", data=hop_form(self.session_id, self.phone, text, self.code)
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text


class _Counting:
    """Mixed into a redis-py async connection: one sent packet = one round-trip."""

    sent: list[str]

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.sent.append(_command_name(command))
        await super().send_packed_command(command, check_health)  # type: ignore[misc]


def counting_redis(url: str) -> tuple[aioredis.Redis, list[str]]:
    """An async client whose every round-trip is recorded (by command name) in the list."""
    sent: list[str] = []
    pool = aioredis.ConnectionPool.from_url(url)
    pool.connection_class = type(
        "CountingConnection", (_Counting, pool.connection_class), {"sent": sent}
    )
    return aioredis.Redis.from_pool(pool), sent  # from_pool: aclose() closes the pool too


def _command_name(command: Any) -> str:
    packed = command if isinstance(command, bytes | str) else b"".join(command)
    packed = packed.encode() if isinstance(packed, str) else packed
    names = re.findall(rb"^\*\d+\r\n\$\d+\r\n([A-Za-z]+)", packed)
    return "+".join(name.decode().upper() for name in names) or "?"
