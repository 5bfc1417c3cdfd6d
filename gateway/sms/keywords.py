"""Reading what a citizen texted: a keyword that starts a flow, or a STOP/START/HELP command.

Both compare folded text (case, accents and extra spaces ignored), so "Kura", "KURA" and
"kúra" are one keyword and "ARRÊT" equals "arret".

- A keyword is the first word of the message: "POLL", "poll!", "#Poll", "poll 2" all start
  the poll; any punctuation around that word is ignored.
- A command is the whole message: "STOP", " stop ", "Stop." are STOP, but "stop please" or
  "I will not stop" are not. Carriers treat STOP the same way, and a word inside a sentence or
  a free-text answer ("the flooding must stop") must never opt a citizen out by accident.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

from gateway.flows.inputs import fold

Command = Literal["stop", "start", "help"]
# Checked in this order, so if a word were listed under two commands, STOP wins.
COMMANDS: tuple[Command, ...] = ("stop", "start", "help")

__all__ = ["COMMANDS", "Command", "command", "fold", "match_keyword"]


def match_keyword(text: str, keywords: Mapping[str, str]) -> str | None:
    """The flow whose keyword is the message's first word, or None.

    >>> match_keyword("Kura! 2", {"KURA": "budget"})
    'budget'
    """
    words = fold(text).split(" ", 1)
    first = _strip_punctuation(words[0])
    if not first:
        return None
    for keyword, flow in keywords.items():
        if _word(keyword) == first:
            return flow
    return None


def command(text: str, commands: Mapping[str, Sequence[str]]) -> Command | None:
    """The command ("stop", "start" or "help") of which the whole message is a synonym, or None.

    >>> command(" Sitisha. ", {"stop": ["STOP", "SITISHA"]})
    'stop'
    >>> command("stop please", {"stop": ["STOP"]}) is None
    True
    """
    message = _strip_punctuation(fold(text))
    if not message:
        return None
    for name in COMMANDS:
        synonyms = commands.get(name, ())
        if isinstance(synonyms, str):
            synonyms = (synonyms,)
        if any(_word(word) == message for word in synonyms):
            return name
    return None


@lru_cache(maxsize=1024)
def _word(text: str) -> str:
    """A keyword or command word folded, without the punctuation around it. Remembered: the
    words come from the settings, and every message is compared with all of them."""
    return _strip_punctuation(fold(text))


def _strip_punctuation(text: str) -> str:
    """Drop punctuation and spaces at both ends: '#poll', 'stop.', '"Help?"' -> the word."""
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")
