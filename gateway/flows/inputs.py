"""How a citizen's reply is read, per step type: a plain registry, each entry with an example.

A parser gets the raw reply and the step's `Spec` and either accepts a value or names the
system text that says what was wrong (with its placeholders). Parsers never render screens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.flows.model import DEFAULT_MAX_LENGTH


@dataclass(frozen=True)
class Choice:
    """One numbered line of a menu: what is saved, what is shown, what else is accepted."""

    value: str
    label: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    """What a step allows; the engine builds it from the step and the citizen's language."""

    choices: tuple[Choice, ...] = ()
    max_length: int = DEFAULT_MAX_LENGTH
    optional: bool = False
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Accepted:
    value: str | int | None  # None: an optional answer was skipped


@dataclass(frozen=True)
class Rejected:
    error: str  # a system text key, e.g. "invalid_number"
    values: dict[str, int | None] = field(default_factory=dict)


Parsed = Accepted | Rejected


def parse_choice(raw: str, spec: Spec) -> Parsed:
    """The option's number, or (for SMS) its value or a label in any language.

    Labels match whole, ignoring case, accents and extra spaces: "kiosques a EAU" picks
    "Kiosques à eau".
    """
    reply = raw.strip()
    if re.fullmatch(r"[0-9]{1,3}", reply):
        number = int(reply)
        if 1 <= number <= len(spec.choices):
            return Accepted(spec.choices[number - 1].value)
        return Rejected("invalid_choice")
    wanted = fold(reply)
    if wanted:
        for choice in spec.choices:
            if wanted in {fold(word) for word in (choice.value, choice.label, *choice.words)}:
                return Accepted(choice.value)
    return Rejected("invalid_choice")


def parse_text(raw: str, spec: Spec) -> Parsed:
    """Free text up to max_length; on an optional step "0" or an empty reply skips."""
    reply = " ".join(raw.split())
    if spec.optional and reply in ("", "0"):
        return Accepted(None)
    if not reply:
        return Rejected("required")
    if len(reply) > spec.max_length:
        return Rejected("too_long", {"max_length": spec.max_length})
    return Accepted(reply)


def parse_number(raw: str, spec: Spec) -> Parsed:
    """A whole number within [min, max]: " 12 " -> 12; "12.5", "twelve" and 99 (max 50) fail."""
    reply = raw.strip()
    bounds = {"min": spec.min, "max": spec.max}
    if not re.fullmatch(r"[+-]?[0-9]{1,12}", reply):
        return Rejected("invalid_number", bounds)
    number = int(reply)
    if (spec.min is not None and number < spec.min) or (spec.max is not None and number > spec.max):
        return Rejected("invalid_number", bounds)
    return Accepted(number)


def fold(text: str) -> str:
    """Compare words the way people type them: "  Français " and "francais" are equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


@dataclass(frozen=True)
class Input:
    parse: Callable[[str, Spec], Parsed]
    errors: tuple[str, ...]  # the system texts it may answer with (room is reserved for them)
    example: str


INPUTS: dict[str, Input] = {
    "choice": Input(
        parse_choice,
        ("invalid_choice",),
        '"2" -> the 2nd option\'s value; "water kiosks" -> "water_kiosks"; "12" of 11 -> invalid',
    ),
    "yesno": Input(
        parse_choice,
        ("invalid_choice",),
        '"1", "yes", "Ndiyo", "oui" -> "yes"; "2", "no", "hapana" -> "no"',
    ),
    "language": Input(
        parse_choice,
        ("invalid_choice",),
        '"2" -> the 2nd language\'s code; "Kiswahili" or "sw" -> "sw"',
    ),
    "text": Input(
        parse_text,
        ("required", "too_long"),
        '"  pave  the road " -> "pave the road"; "0" on an optional step -> skipped',
    ),
    "number": Input(
        parse_number,
        ("invalid_number",),
        '" 7 " -> 7; "7.5", "seven", "0" (min 1) -> invalid_number',
    ),
}
