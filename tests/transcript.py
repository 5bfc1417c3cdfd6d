"""Golden transcript files: what a citizen typed and the screen they saw, hop by hop.

Format (see tests/transcripts/README.md)::

    # a comment (only outside screens)
    === happy path, English
    > *384*1#
    < CON Language / Lugha / Langue:
    < 1. English
    > 1
    < END Thank you ...

`> ` is what the citizen typed (the first one in a transcript is the dialled service code; the
same code typed again later is the citizen dialling again after a dropped call);
the `< ` lines after it are the screen they got back, one line per screen line, starting with
the `CON `/`END ` prefix exactly as Africa's Talking receives it. The same files are played
through the pure engine and through the real HTTP endpoint, so the parser lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEADER = "=== "


class TranscriptError(ValueError):
    """A transcript file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Hop:
    typed: str
    screen: str


@dataclass(frozen=True)
class Transcript:
    name: str
    hops: list[Hop]

    @property
    def dial(self) -> str:
        return self.hops[0].typed

    def redials(self) -> list[int]:
        """The hops where the citizen dials the service code again: a new session, same phone."""
        return [n for n, hop in enumerate(self.hops) if n and hop.typed == self.dial]


def load_transcripts(path: str | Path) -> list[Transcript]:
    path = Path(path)
    return parse_transcripts(path.read_text(encoding="utf-8"), source=str(path))


def parse_transcripts(text: str, source: str = "<transcript>") -> list[Transcript]:
    transcripts: list[Transcript] = []
    name: str | None = None
    hops: list[tuple[str, list[str]]] = []

    def finish() -> None:
        if name is None:
            return
        if not hops:
            raise TranscriptError(f"{source}: transcript {name!r} has no hops")
        for typed, lines in hops:
            if not lines:
                raise TranscriptError(f"{source}: {name!r}: no screen after > {typed}")
        transcripts.append(Transcript(name, [Hop(t, "\n".join(s)) for t, s in hops]))

    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        if line.startswith(HEADER):
            finish()
            name, hops = line[len(HEADER) :].strip(), []
        elif line.startswith(">"):
            if name is None:
                raise TranscriptError(f"{where}: input before the first '=== name' header")
            hops.append((_payload(line, where), []))
        elif line.startswith("<"):
            if not hops:
                raise TranscriptError(f"{where}: screen line before any '> ' input")
            hops[-1][1].append(_payload(line, where))
        elif line.strip() and not line.startswith("#"):
            raise TranscriptError(f"{where}: expected '=== ', '> ', '< ' or '#', got {line!r}")
    finish()
    return transcripts


def _payload(line: str, where: str) -> str:
    """`> 1` -> "1"; a bare `>` or `<` is an empty input or an empty screen line."""
    if len(line) == 1:
        return ""
    if line[1] != " ":
        raise TranscriptError(f"{where}: put a space after {line[0]!r}")
    return line[2:]
