"""A thin client for the emulator's /emulator/… API, for tests and the staff view.

    with EmulatorClient("http://127.0.0.1:8001") as emulator:
        emulator.fault("429", provider="twilio", count=2)
        emulator.sms("POLL", sender="+254711000001")            # a citizen texts the gateway
        emulator.ussd("", phone="+254711000001", code="*384*1#")  # a citizen dials
        assert [m["text"] for m in emulator.messages(to="+254711000001")] == [...]
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from gateway.emulator.citizen import GatewayAnswer


class EmulatorClient:
    def __init__(self, base_url: str, *, timeout: float = 15.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def messages(
        self, *, to: str | None = None, provider: str | None = None
    ) -> list[dict[str, Any]]:
        """Every message the emulator accepted (oldest first), with its current status."""
        params = {k: v for k, v in {"to": to, "provider": provider}.items() if v}
        return self._call("GET", "/emulator/messages", params=params)["messages"]

    def clear(self) -> int:
        """Forget every accepted message (memory and file) and the call counts; returns how
        many messages there were."""
        return self._call("DELETE", "/emulator/messages")["deleted"]

    def calls(self) -> dict[str, int]:
        """Send requests taken per provider since the start or the last `clear`."""
        return self._call("GET", "/emulator/calls")

    def fault(
        self,
        kind: str,
        *,
        provider: str = "*",
        count: int = 1,
        to: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """The next `count` matching sends fail: "429", "500", "slow", "optout", "invalid",
        "blacklist" or "undelivered" (accepted, then a failed delivery report)."""
        body: dict[str, Any] = {"provider": provider, "kind": kind, "count": count}
        if to is not None:
            body["to"] = to
        if seconds is not None:
            body["seconds"] = seconds
        self._call("POST", "/emulator/faults", json=body)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/emulator/faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/emulator/faults")

    def sms(
        self,
        text: str,
        *,
        sender: str,
        provider: str = "africastalking",
        to: str | None = None,
        message_id: str | None = None,
    ) -> GatewayAnswer:
        """A citizen's SMS, posted to the gateway; repeat `message_id` to send a duplicate."""
        body = {"provider": provider, "from": sender, "text": text, "to": to, "id": message_id}
        answer = self._call("POST", "/emulator/sms", json=_present(body))
        return GatewayAnswer(answer["status"], answer["body"], answer["id"])

    def ussd(
        self, text: str, *, phone: str, code: str, session: str | None = None
    ) -> GatewayAnswer:
        """A USSD hop (`text`: all inputs so far joined by `*`); `.body` is the screen."""
        body = {"text": text, "phone": phone, "code": code, "session": session}
        answer = self._call("POST", "/emulator/ussd", json=_present(body))
        return GatewayAnswer(answer["status"], answer["body"], answer["id"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **options: Any) -> Any:
        response = self._http.request(method, path, **options)
        if response.status_code >= 400:
            raise EmulatorError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()


class EmulatorError(Exception):
    """The emulator refused a request (bad fault, gateway unreachable...)."""


def _present(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
