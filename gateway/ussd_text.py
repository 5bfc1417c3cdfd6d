"""Where Africa's Talking's accumulated USSD `text` is split into the citizen's new input.

AT sends `""` on the first hop and then every input so far joined by `*` ("1", "1*2", ...).
A free-text answer may itself contain `*`, so the new input is whatever follows the text
already consumed, never "the last segment":

>>> split_hop("1", "1*hello*world")
Split(kind='input', inputs=('hello*world',))

A first hop may already carry inputs when the citizen dialled `*384*1*2#` (AT sends the
service code `*384*1#` and text `"2"`); then each `*`-separated part is an input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["start", "input", "replay", "out_of_order"]


@dataclass(frozen=True)
class Split:
    """What a hop means for the session.

    start: no text consumed yet in this session; `inputs` are the extra dial-string parts.
    input: one new input after the consumed text (may be "" for an empty reply).
    replay: the provider repeated the last hop; answer with the stored screen.
    out_of_order: a late or conflicting hop (shorter, or diverging from what was consumed);
        it must not be applied, answer with the stored screen.
    """

    kind: Kind
    inputs: tuple[str, ...] = ()


def split_hop(consumed: str | None, text: str) -> Split:
    """Split `text` given the text already consumed (`None` when the session is new)."""
    if consumed is None:
        return Split("start", tuple(text.split("*")) if text else ())
    if text == consumed:
        return Split("replay")
    if consumed == "":
        return Split("input", (text,))
    if text.startswith(consumed + "*"):
        return Split("input", (text[len(consumed) + 1 :],))
    return Split("out_of_order")
