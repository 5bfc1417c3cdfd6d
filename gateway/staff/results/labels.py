"""How a results page names a flow's steps, in the flow's default language.

A prompt is written for a phone screen, not for a chart: "Priority: {priority}. Ward: {ward}.
Send your vote?" would read "Priority: . Ward: . Send your vote?" with its placeholders dropped.
`prompt_text` writes each placeholder as the answer it stands for ("Priority: [priority]. …"),
and `step_label` picks a short name for a funnel row: the prompt if it is short, else its
first question without a placeholder ("Send your vote?"), cut at a word to `LABEL_LENGTH`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.flows.model import Flow, Step, localise

LABEL_LENGTH = 50
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
# steps whose words come from the system texts, not the flow file
TYPE_LABELS = {"language": "Choose a language"}


def label_of(flow: Flow, texts: Mapping[str, str]) -> str:
    """A text in the flow's default language ("" if it has none)."""
    return localise(texts, flow.default_language, flow.default_language)


def prompt_text(flow: Flow, step: Step) -> str:
    """The step's prompt with `{key}` written as `[key]`; the step id if it has no prompt."""
    return PLACEHOLDER.sub(r"[\1]", _prompt(flow, step)) or TYPE_LABELS.get(step.type, step.id)


def step_label(flow: Flow, step: Step) -> str:
    """A short name for the step: "Which ward do you live in?", "Send your vote?"."""
    text = _prompt(flow, step).strip()
    if not text:
        return TYPE_LABELS.get(step.type, step.id)
    if len(text) <= LABEL_LENGTH and not PLACEHOLDER.search(text):
        return text
    plain = [s for s in SENTENCE_END.split(text) if s and not PLACEHOLDER.search(s)]
    questions = [s for s in plain if s.endswith("?")]
    chosen = (questions or plain or [PLACEHOLDER.sub(r"[\1]", text)])[0]
    return shorten(chosen)


def shorten(text: str, limit: int = LABEL_LENGTH) -> str:
    """`text` cut at the last word that fits, with "…" ("In the last 3 months, did you…")."""
    if len(text) <= limit:
        return text
    head = text[:limit - 1]  # room for the "…"
    cut = head.rsplit(" ", 1)[0] if " " in head else head
    return cut.rstrip(" ,;:.-(") + "…"


def _prompt(flow: Flow, step: Step) -> str:
    """The prompt in the default language; an area or reports step's first screen."""
    if step.prompt:
        return label_of(flow, step.prompt)
    first = step.levels[0] if step.levels else "list"
    return label_of(flow, step.prompts.get(first, {}))
