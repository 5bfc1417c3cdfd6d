"""Free-text comments: the answers to a flow's text steps, newest first, a page at a time.

Only completed runs count (a citizen who hung up before sending did not send their comment).
The text is citizen text: templates escape it like everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.flows.model import Flow
from gateway.models import FlowRun
from gateway.staff.results.labels import prompt_text
from gateway.staff.results.tally import CHANNEL_NAMES, answer, completed, text_steps

PAGE_SIZE = 20


@dataclass(frozen=True)
class Comment:
    when: datetime
    question: str
    text: str
    language: str
    channel: str


@dataclass(frozen=True)
class CommentPage:
    comments: tuple[Comment, ...]
    page: int  # 0 is the newest
    total: int

    @property
    def more(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total


def comment_page(flow: Flow, runs: Sequence[FlowRun], page: int) -> CommentPage:
    found = [Comment(run.ended_at, prompt_text(flow, step), text, run.language,
                     CHANNEL_NAMES.get(run.channel, run.channel))
             for step in text_steps(flow) for run in completed(runs)
             if (text := answer(run, str(step.result))) is not None]
    found.sort(key=lambda comment: comment.when, reverse=True)
    start = page * PAGE_SIZE
    return CommentPage(tuple(found[start:start + PAGE_SIZE]), page, len(found))
