"""What the emulator accepted: in memory for its API, and one JSON line per message in a file.

The file lets a test in another process count exactly how many times each message reached
"the provider" (`read_messages`), even across a restart of the emulator, which reloads it.
A bulk call's messages are written with one write and one flush (`add_many`): recording
100,000 invites must not be what limits a broadcast's measured rate (bench/broadcast.py).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

MEMORY_LIMIT = 200_000  # messages kept in memory; the file keeps them all


@dataclass
class SentMessage:
    """One message a provider accepted. `status` moves on as delivery reports are fired."""

    provider: str  # "africastalking" | "twilio"
    id: str  # the provider's id: "ATXid_…" or "SM…"
    to: str
    sender: str  # AT `from` (shortcode / sender id), Twilio `From` or the service sid
    text: str
    time: str  # ISO 8601, UTC
    segments: int = 1
    status: str = "accepted"
    status_callback: str = field(default="", repr=False)

    def line(self) -> dict[str, Any]:
        """The JSON line: what was sent, not how it went on."""
        return {"provider": self.provider, "id": self.id, "to": self.to, "sender": self.sender,
                "text": self.text, "time": self.time, "segments": self.segments}

    def public(self) -> dict[str, Any]:
        return {**self.line(), "status": self.status}

    @property
    def sent_at(self) -> datetime:
        return datetime.fromisoformat(self.time)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class MessageStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._messages: deque[SentMessage] = deque(maxlen=MEMORY_LIMIT)
        self._by_id: dict[str, SentMessage] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        for line in read_messages(path):
            self._remember(SentMessage(**line))
        self._file: TextIO = path.open("a", encoding="utf-8")

    def add(self, message: SentMessage) -> None:
        self.add_many([message])

    def add_many(self, messages: Sequence[SentMessage]) -> None:
        """Record the messages of one call: one write, one flush."""
        lines = "".join(json.dumps(m.line(), ensure_ascii=False) + "\n" for m in messages)
        with self._lock:
            self._file.write(lines)
            self._file.flush()
            for message in messages:
                self._remember(message)

    def get(self, provider_id: str) -> SentMessage | None:
        return self._by_id.get(provider_id)

    def list(self, *, to: str | None = None, provider: str | None = None) -> list[SentMessage]:
        return [
            m
            for m in list(self._messages)
            if (to is None or m.to == to) and (provider is None or m.provider == provider)
        ]

    def clear(self) -> int:
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            self._by_id.clear()
            self._file.truncate(0)
            self._file.seek(0)
            return count

    def close(self) -> None:
        self._file.close()

    def _remember(self, message: SentMessage) -> None:
        if len(self._messages) == self._messages.maxlen:
            self._by_id.pop(self._messages[0].id, None)
        self._messages.append(message)
        self._by_id[message.id] = message


def read_messages(path: str | Path) -> list[dict[str, Any]]:
    """Every message recorded in the emulator's JSONL file (a partly written last line is skipped).

    >>> # Counting deliveries from a test in another process:
    >>> # Counter(m["text"] for m in read_messages("var/emulator/messages.jsonl"))
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the writer is mid-line
    return lines
