"""Where a menu is cut into USSD screens.

    Which project should your ward fund first?
    1. Water kiosks
    ...
    6. Market stalls & shade
    98. More
    0. Back

Numbering is global (page 2 starts where page 1 stopped). Every page repeats the prompt and
keeps `reserve` characters free for an error line, so a re-prompt never moves a boundary:
the same prompt, labels and reserve always give the same pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LIMIT = 182  # characters on one Africa's Talking USSD screen
MORE = "98"
BACK = "0"
MAX_OPTIONS = 97  # numbers 1..97; 98 is More and 0 is Back


class PaginationError(ValueError):
    """One option cannot fit on a screen, even alone with the prompt, navigation and error line."""

    def __init__(self, number: int, label: str, size: int, limit: int):
        self.number = number
        self.label = label
        self.size = size
        self.limit = limit
        super().__init__(
            f'option {number} "{label}" does not fit on one screen: {size} characters with the '
            f"prompt, navigation and error line, over the limit of {limit}"
        )


@dataclass(frozen=True)
class Page:
    text: str
    start: int  # index of the first option on the page
    stop: int  # index after the last one
    has_back: bool
    has_more: bool


def paginate(
    header: str,
    labels: Sequence[str],
    more: str,
    back: str,
    limit: int = LIMIT,
    reserve: int = 0,
) -> list[Page]:
    """Lay out `labels` as numbered lines under `header`, as many per page as fit.

    Pages are filled greedily; "98. More" appears when a next page exists and "0. Back" on
    every page after the first. Raises PaginationError if an option cannot fit on any page.
    """
    if len(labels) > MAX_OPTIONS:
        raise ValueError(f"a menu holds at most {MAX_OPTIONS} options, got {len(labels)}")
    lines = [f"{number}. {label}" for number, label in enumerate(labels, start=1)]
    more_line, back_line = f"{MORE}. {more}", f"{BACK}. {back}"
    pages: list[Page] = []
    start = 0
    while True:
        has_back = bool(pages)
        tail = [back_line] if has_back else []
        if _size(header, lines[start:] + tail, reserve) <= limit:
            text = _join(header, lines[start:] + tail)
            pages.append(Page(text, start, len(lines), has_back, False))
            return pages
        stop = start
        while stop < len(lines):
            if _size(header, lines[start : stop + 1] + [more_line] + tail, reserve) > limit:
                break
            stop += 1
        if stop == start:
            nav = [more_line] if start + 1 < len(lines) else []
            size = _size(header, [lines[start]] + nav + tail, reserve)
            raise PaginationError(start + 1, labels[start], size, limit)
        text = _join(header, lines[start:stop] + [more_line] + tail)
        pages.append(Page(text, start, stop, has_back, True))
        start = stop


def _size(header: str, lines: list[str], reserve: int) -> int:
    return len(_join(header, lines)) + reserve


def _join(header: str, lines: list[str]) -> str:
    return "\n".join(([header] if header else []) + lines)
