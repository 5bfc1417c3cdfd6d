"""Horizontal bar charts as server-rendered SVG: no script, no CDN, readable without CSS.

Each chart has a <title> and a <desc> that reads every bar ("Water kiosks: 12 (40%)"), and the
numbers are drawn as text beside the bars, so a screen reader, a text browser and a printout all
get the figures. A hidden (suppressed) count draws no bar: its length would give it away.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 400  # viewBox units; the chart scales to its container
LABEL_HEIGHT = 18
BAR_HEIGHT = 16
ROW = 44
BAR_SPACE = 290  # the longest bar; the rest is for its number
MAX_LABEL = 60


@dataclass(frozen=True)
class Bar:
    key: str  # an option value or step id: part of the count's element id
    label: str
    count: int | None  # None: hidden, fewer than the small-group threshold
    percent: int | None = None

    def figure(self, small_group: int) -> str:
        if self.count is None:
            return f"fewer than {small_group}"
        return f"{self.count} ({self.percent}%)" if self.percent is not None else str(self.count)


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], small_group: int) -> Markup:
    """An accessible SVG bar chart; element ids are `{chart_id}-{key}` for each figure."""
    chart_id = dom_id(chart_id)
    most = max((bar.count for bar in bars if bar.count), default=0)
    height = max(ROW * len(bars), ROW)
    desc = ". ".join(f"{bar.label}: {bar.figure(small_group)}" for bar in bars) or "No answers yet"
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for i, bar in enumerate(bars):
        parts.append(_row(chart_id, i * ROW, bar, most, small_group))
    parts.append("</svg>")
    return Markup("".join(parts))


def _row(chart_id: str, top: int, bar: Bar, most: int, small_group: int) -> str:
    label = bar.label if len(bar.label) <= MAX_LABEL else bar.label[:MAX_LABEL - 1] + "…"
    length = round(BAR_SPACE * bar.count / most) if bar.count and most else 0
    bar_top = top + LABEL_HEIGHT + 4
    text_y = bar_top + BAR_HEIGHT - 3
    rect = (f'<rect class="bar-fill" x="0" y="{bar_top}" width="{length}" '
            f'height="{BAR_HEIGHT}" fill="#0b5cad"/>' if length else "")
    return (f'<text x="0" y="{top + LABEL_HEIGHT - 4}">{escape(label)}</text>{rect}'
            f'<text class="figure" x="{length + 6}" y="{text_y}" '
            f'id="{chart_id}-{dom_id(bar.key)}">{escape(bar.figure(small_group))}</text>')


def dom_id(text: str) -> str:
    """An element id made of the characters every id and selector accepts."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)
