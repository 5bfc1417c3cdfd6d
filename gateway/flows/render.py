"""What a step looks like on a screen, in a language: prompt, menu pages, error line, quotes.

The checker lays out the same screens with worst-case answers, so what passes the check is
what the engine shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from gateway.flows.inputs import INPUTS, Choice, Spec
from gateway.flows.model import Flow, Step, localise
from gateway.flows.pagination import LIMIT, Page, paginate
from gateway.flows.texts import SystemTexts, fill

MISSING_ANSWER = "-"  # what {key} shows for a question skipped or not reached
T = TypeVar("T")


class _Memo:
    """Results of the pure layout functions below, by the identity of their flow, texts and step.

    Every hop lays out a screen, and a menu's choices, error lines and pages are the same each
    time for the same step and language. An entry holds the objects it is keyed by, so their
    ids cannot be reused while it lives; past `size` entries (steps built per call, such as
    area menus, come and go) it starts afresh.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.entries: dict[tuple[object, ...], tuple[tuple[object, ...], object]] = {}

    def get(self, objects: tuple[object, ...], values: tuple[object, ...],
            compute: Callable[[], T]) -> T:
        key = (*map(id, objects), *values)
        entry = self.entries.get(key)
        if entry is None:
            if len(self.entries) >= self.size:
                self.entries.clear()
            entry = self.entries[key] = (objects, compute())
        return entry[1]  # type: ignore[return-value]


_memo = _Memo()


@dataclass(frozen=True)
class Screen:
    text: str  # without the "CON "/"END " prefix; at most `limit` (USSD: 182) characters
    final: bool  # True: the session ends (END)


def system_text(flow: Flow, texts: SystemTexts, key: str, language: str, **values: object) -> str:
    return texts.text(key, language, fallback=flow.default_language, **values)


def menu(flow: Flow, texts: SystemTexts, step: Step, language: str) -> tuple[Choice, ...]:
    """The numbered entries of a choice, yes/no or language step."""
    return _memo.get((flow, texts, step), ("menu", language),
                     lambda: _menu(flow, texts, step, language))


def _menu(flow: Flow, texts: SystemTexts, step: Step, language: str) -> tuple[Choice, ...]:
    if step.type == "choice":
        return tuple(
            Choice(
                o.value, localise(o.label, language, flow.default_language), tuple(o.label.values())
            )
            for o in step.options
        )
    if step.type == "yesno":
        return tuple(
            Choice(word, system_text(flow, texts, word, language), texts.all_languages(word))
            for word in ("yes", "no")
        )
    if step.type == "language":
        return tuple(Choice(code, texts.text("language_name", code)) for code in flow.languages)
    return ()


def spec(flow: Flow, texts: SystemTexts, step: Step, language: str) -> Spec:
    return Spec(
        menu(flow, texts, step, language), step.max_length, step.optional, step.min, step.max
    )


def error_texts(flow: Flow, texts: SystemTexts, step: Step, language: str) -> list[str]:
    """Every error line the step can show; the longest is reserved on each of its pages."""
    if step.type not in INPUTS:
        return []
    values = {"min": step.min, "max": step.max, "max_length": step.max_length}
    keys = [key for key in INPUTS[step.type].errors if not (key == "required" and step.optional)]
    return [system_text(flow, texts, key, language, **values) for key in keys]


def reserve(flow: Flow, texts: SystemTexts, step: Step, language: str) -> int:
    """Room kept free for the longest error line and its line break."""
    def longest() -> int:
        errors = error_texts(flow, texts, step, language)
        return max((len(error) for error in errors), default=-1) + 1

    return _memo.get((flow, texts, step), ("reserve", language), longest)


def quotes(
    flow: Flow, texts: SystemTexts, answers: Mapping[str, str | int], language: str
) -> dict[str, str]:
    """What `{key}` shows for each result key: a choice's label in the citizen's language."""
    shown = {step.result: MISSING_ANSWER for step in flow.steps.values() if step.result}
    for key, value in answers.items():
        shown[key] = quote(flow, texts, key, value, language)
    return shown


class _Quotes(Mapping[str, str]):
    """`quotes(...)`, computed on first use: most prompts quote no earlier answer."""

    def __init__(self, flow: Flow, texts: SystemTexts, answers: Mapping[str, str | int],
                 language: str) -> None:
        self._args = (flow, texts, answers, language)
        self._shown: dict[str, str] | None = None

    def _all(self) -> dict[str, str]:
        if self._shown is None:
            self._shown = quotes(*self._args)
        return self._shown

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def quote(flow: Flow, texts: SystemTexts, key: str, value: str | int, language: str) -> str:
    for step in flow.producers(key):
        for choice in menu(flow, texts, step, language):
            if choice.value == value:
                return choice.label
    return str(value)


def header(
    flow: Flow, texts: SystemTexts, step: Step, language: str, quoted: Mapping[str, str]
) -> str:
    """The prompt (or an end step's text) with earlier answers quoted."""
    if step.type == "end":
        return fill(localise(step.text, language, flow.default_language), quoted)
    if step.type == "language" and not step.prompt:
        return picker_prompt(flow, texts)
    return fill(localise(step.prompt, language, flow.default_language), quoted)


def picker_prompt(flow: Flow, texts: SystemTexts) -> str:
    """"Language / Lugha / Langue:": the picker comes before anyone knows what the citizen reads."""
    words = (system_text(flow, texts, "choose_language", code) for code in flow.languages)
    return " / ".join(dict.fromkeys(words)) + ":"


def pages(
    flow: Flow,
    texts: SystemTexts,
    step: Step,
    language: str,
    quoted: Mapping[str, str],
    limit: int = LIMIT,
) -> list[Page]:
    """The step's screens without an error line; one page unless it is a long menu.

    `limit` is a screen's size: USSD's 182 by default; SMS passes a whole message's worth, so
    a menu arrives in one message with every option.
    """
    if quotes_nothing(flow, texts, step, language):  # the same pages every time: laid out once
        return list(_memo.get((flow, texts, step), ("pages", language, limit),
                              lambda: _pages(flow, texts, step, language, {}, limit)))
    return list(_pages(flow, texts, step, language, quoted, limit))


def _pages(
    flow: Flow,
    texts: SystemTexts,
    step: Step,
    language: str,
    quoted: Mapping[str, str],
    limit: int,
) -> tuple[Page, ...]:
    top = header(flow, texts, step, language, quoted)
    labels = tuple(choice.label for choice in menu(flow, texts, step, language))
    more = system_text(flow, texts, "more", language)
    back = system_text(flow, texts, "back", language)
    return _paginated(top, labels, more, back, limit, reserve(flow, texts, step, language))


def quotes_nothing(flow: Flow, texts: SystemTexts, step: Step, language: str) -> bool:
    """True when the step's prompt (or end text) in `language` quotes no earlier answer."""
    def probe() -> bool:
        asked = _Probe()
        header(flow, texts, step, language, asked)
        return not asked.asked

    return _memo.get((flow, texts, step), ("quotes nothing", language), probe)


class _Probe(Mapping[str, str]):
    """An empty mapping that notes whether a `{placeholder}` was looked up in it."""

    def __init__(self) -> None:
        self.asked = False

    def __getitem__(self, key: str) -> str:
        self.asked = True
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.asked = True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def remember(objects: tuple[object, ...], values: tuple[object, ...],
             compute: Callable[[], T]) -> T:
    """`compute()`, kept by the identity of `objects` (frozen flow data) and by `values`."""
    return _memo.get(objects, values, compute)


@lru_cache(maxsize=2048)
def _paginated(
    top: str, labels: tuple[str, ...], more: str, back: str, limit: int, room: int
) -> tuple[Page, ...]:
    """`paginate`, remembered: the same texts always give the same (frozen) pages."""
    return tuple(paginate(top, labels, more, back, limit, room))


def step_screen(
    flow: Flow,
    texts: SystemTexts,
    step: Step,
    language: str,
    answers: Mapping[str, str | int],
    page: int = 0,
    error: str | None = None,
    limit: int = LIMIT,
) -> Screen:
    quoted = _Quotes(flow, texts, answers, language)  # worked out only if the text quotes
    if step.type == "end":
        return Screen(clip(header(flow, texts, step, language, quoted), limit), True)
    laid_out = pages(flow, texts, step, language, quoted, limit)
    text = laid_out[min(page, len(laid_out) - 1)].text
    return Screen(clip(f"{error}\n{text}" if error else text, limit), False)


def resume_menu(flow: Flow, texts: SystemTexts, language: str) -> tuple[Choice, ...]:
    return (
        Choice("continue", system_text(flow, texts, "resume_continue", language)),
        Choice("restart", system_text(flow, texts, "resume_restart", language)),
    )


def resume_text(flow: Flow, texts: SystemTexts, language: str, error: str | None = None) -> str:
    """ "Welcome back. Continue where you left off?" with 1. continue / 2. start again."""
    lines = [system_text(flow, texts, "resume_prompt", language)]
    lines += [f"{n}. {c.label}" for n, c in enumerate(resume_menu(flow, texts, language), 1)]
    return "\n".join(([error] if error else []) + lines)


def resume_screen(
    flow: Flow, texts: SystemTexts, language: str, error: str | None = None, limit: int = LIMIT
) -> Screen:
    return Screen(clip(resume_text(flow, texts, language, error), limit), False)


def end_screen(
    flow: Flow, texts: SystemTexts, key: str, language: str, limit: int = LIMIT
) -> Screen:
    """A polite END from the system texts, e.g. "too_many_attempts"."""
    return Screen(clip(system_text(flow, texts, key, language), limit), True)


def clip(text: str, limit: int = LIMIT) -> str:
    """Last resort only: the checker refuses flows whose screens could be longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
