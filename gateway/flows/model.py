"""What a flow file says, as plain frozen data: a flow, its steps, their options and routes.

The loader builds these from TOML; the engine, renderer and checker only read them.
Texts are mappings from a language code to a string (`{"en": "Water kiosks", "sw": ...}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Texts = Mapping[str, str]

STEP_TYPES = ("choice", "text", "number", "yesno", "language", "area", "reports", "end")
MENU_TYPES = ("choice", "yesno", "language")
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_LENGTH = 160


@dataclass(frozen=True)
class Option:
    value: str
    label: Texts


@dataclass(frozen=True)
class Range:
    """A route condition on a number answer; a missing bound is open."""

    min: int | None = None
    max: int | None = None

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


Condition = str | int | tuple[str | int, ...] | Range


@dataclass(frozen=True)
class Route:
    """Skip logic: go to `goto` when every answer named in `when` matches its condition."""

    when: Mapping[str, Condition]
    goto: str

    def matches(self, answers: Mapping[str, str | int]) -> bool:
        return all(_holds(cond, answers.get(key)) for key, cond in self.when.items())


def _holds(cond: Condition, answer: str | int | None) -> bool:
    if answer is None:
        return False
    if isinstance(cond, Range):
        return answer in cond
    if isinstance(cond, tuple):
        return any(_holds(one, answer) for one in cond)
    return str(cond) == str(answer)


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    prompt: Texts = field(default_factory=dict)
    text: Texts = field(default_factory=dict)
    options: tuple[Option, ...] = ()
    result: str | None = None
    next: str | None = None
    routes: tuple[Route, ...] = ()
    max_length: int = DEFAULT_MAX_LENGTH
    optional: bool = False
    min: int | None = None
    max: int | None = None
    channel_max_length: Mapping[str, int] = field(default_factory=dict)  # {"sms": 500}
    levels: tuple[str, ...] = ()  # an area step's levels, top first
    prompts: Mapping[str, Texts] = field(default_factory=dict)  # an area step's, per level

    @property
    def is_menu(self) -> bool:
        # an area step is one menu per level; a reports step lists the citizen's own reports
        return self.type in MENU_TYPES or self.type in ("area", "reports")

    def next_step(self, answers: Mapping[str, str | int]) -> str | None:
        """The first matching route's target, else `next`."""
        for route in self.routes:
            if route.matches(answers):
                return route.goto
        return self.next

    def targets(self) -> list[str]:
        """Every step this one can lead to."""
        found = [route.goto for route in self.routes]
        return found + ([self.next] if self.next else [])


@dataclass(frozen=True)
class ReportLine:
    """One of the citizen's own reports, as a `reports` step lists it (codes, not labels)."""

    reference: str
    category: str  # the category step's option value
    ward: str  # an area code
    status: str  # submitted, acknowledged, in_progress, resolved, closed, rejected
    note: str = ""  # the latest status note (or rejection reason)
    reopenable: bool = False  # resolved, by this citizen, within the reopen window


@dataclass(frozen=True)
class Flow:
    name: str
    title: Texts
    languages: tuple[str, ...]
    default_language: str
    steps: Mapping[str, Step]
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    kind: str = "survey"  # "report": a finished run becomes a Report; {reference} may be quoted
    entry: Mapping[str, str] = field(default_factory=dict)  # channel -> first step, if not `start`

    @property
    def start(self) -> str | None:
        """The first step in the file."""
        return next(iter(self.steps), None)

    def first_step(self, channel: str) -> str | None:
        """Where a run on `channel` begins: its `entry`, else the first step in the file."""
        return self.entry.get(channel) or self.start

    def producers(self, key: str) -> list[Step]:
        """The steps that save an answer under result key `key`."""
        return [step for step in self.steps.values() if step.result == key]


def localise(texts: Texts, language: str, default: str) -> str:
    """The text in `language`, else in the flow's default language, else any ("" if none)."""
    if language in texts:
        return texts[language]
    if default in texts:
        return texts[default]
    return next(iter(texts.values()), "")
