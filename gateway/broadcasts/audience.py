"""What staff asked for: contacts filtered by ward, language and tag, or a list of numbers.

An Audience is plain data: the launch form builds it, the preview and the confirm form carry it,
and a Broadcast stores it (`stored()`) so a scheduled send can pick its people at send time.
A list of numbers is stored as pseudonyms (their contacts are created at confirm), never as
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONTACTS = "contacts"
NUMBERS = "csv"


@dataclass(frozen=True)
class Audience:
    kind: str = CONTACTS  # "contacts" | "csv"
    ward: str = ""  # "" = any
    language: str = ""
    tag: str = ""
    numbers: tuple[str, ...] = field(default=())  # E.164, when kind is "csv"

    @property
    def by_numbers(self) -> bool:
        return self.kind == NUMBERS

    def describe(self) -> str:
        """One line for people (the audit log, the progress page); never a number."""
        if self.by_numbers:
            return f"{len(self.numbers)} numbers from a list"
        parts = [f"{name} {value}" for name, value in
                 (("ward", self.ward), ("language", self.language), ("tag", self.tag)) if value]
        return "contacts" + (" with " + ", ".join(parts) if parts else ": everyone")

    def stored(self, pseudonyms: list[str] | None = None) -> dict[str, Any]:
        """The Broadcast's `audience` JSON; a list of numbers is kept as pseudonyms."""
        if self.by_numbers:
            return {"kind": NUMBERS, "pseudonyms": pseudonyms or []}
        return {"kind": CONTACTS, "ward": self.ward, "language": self.language, "tag": self.tag}
