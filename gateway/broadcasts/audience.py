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
    tag: str = ""  # contacts: only those tagged so; a list: tag its contacts so
    numbers: tuple[str, ...] = field(default=())  # E.164, when kind is "csv"
    reinvite: bool = False  # False: leave out people an earlier broadcast of the poll invited

    @property
    def by_numbers(self) -> bool:
        return self.kind == NUMBERS

    def describe(self) -> str:
        """One line for people (the audit log, the progress page); never a number."""
        again = "" if self.reinvite else " (leaving out anyone already invited to this poll)"
        if self.by_numbers:
            tagged = f", tagged {self.tag!r}" if self.tag else ""
            count = len(self.numbers)
            return f"{count} number{'' if count == 1 else 's'} from a list{tagged}{again}"
        parts = [f"{name} {value}" for name, value in
                 (("ward", self.ward), ("language", self.language), ("tag", self.tag)) if value]
        return "contacts" + (" with " + ", ".join(parts) if parts else ": everyone") + again

    def stored(self, pseudonyms: list[str] | None = None) -> dict[str, Any]:
        """The Broadcast's `audience` JSON; a list of numbers is kept as pseudonyms."""
        if self.by_numbers:
            return {"kind": NUMBERS, "pseudonyms": pseudonyms or [], "tag": self.tag,
                    "reinvite": self.reinvite}
        return {"kind": CONTACTS, "ward": self.ward, "language": self.language, "tag": self.tag,
                "reinvite": self.reinvite}
