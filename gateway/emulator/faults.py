"""Faults on request: the next n matching sends fail in a chosen way.

`POST /emulator/faults {"provider": "twilio", "kind": "429", "count": 2}` makes the next two
Twilio sends answer 429. Call kinds fail the whole API call; recipient kinds refuse (or, for
"undelivered", accept then report failure for) one recipient, the way the provider would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

PROVIDERS = ("africastalking", "twilio", "*")
CALL_KINDS = ("429", "500", "slow")
RECIPIENT_KINDS = ("optout", "invalid", "blacklist", "undelivered")
KINDS = CALL_KINDS + RECIPIENT_KINDS
DEFAULT_SLOW_SECONDS = 5.0
MAX_SLOW_SECONDS = 120.0


class FaultError(ValueError):
    """A fault request that makes no sense; the message says why."""


@dataclass
class Fault:
    provider: str
    kind: str
    count: int = 1
    to: str | None = None
    seconds: float = DEFAULT_SLOW_SECONDS

    def matches(self, provider: str, kinds: Sequence[str], numbers: Sequence[str]) -> bool:
        return (
            self.count > 0
            and self.provider in (provider, "*")
            and self.kind in kinds
            and (self.to is None or self.to in numbers)
        )


def parse_fault(data: Mapping[str, Any]) -> Fault:
    """Validate the JSON body of POST /emulator/faults."""
    if not isinstance(data, Mapping):
        raise FaultError("expected a JSON object")
    provider = data.get("provider", "*")
    kind = str(data.get("kind", ""))
    if provider not in PROVIDERS:
        raise FaultError(f"provider must be one of {', '.join(PROVIDERS)}")
    if kind not in KINDS:
        raise FaultError(f"kind must be one of {', '.join(KINDS)}")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultError("count must be a positive whole number")
    to = data.get("to")
    if to is not None and (not isinstance(to, str) or not to):
        raise FaultError("to must be a phone number")
    seconds = data.get("seconds", DEFAULT_SLOW_SECONDS)
    if not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_SLOW_SECONDS:
        raise FaultError(f"seconds must be from 0 to {MAX_SLOW_SECONDS:g}")
    return Fault(provider, kind, count, to, float(seconds))


class FaultBook:
    """Pending faults, first added first used."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, provider: str, kinds: Sequence[str], numbers: Sequence[str]) -> Fault | None:
        """Use up one count of the first matching fault."""
        for fault in self._faults:
            if fault.matches(provider, kinds, numbers):
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self._faults]

    def clear(self) -> None:
        self._faults.clear()
