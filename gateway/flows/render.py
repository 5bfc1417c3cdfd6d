"""What a step looks like on a screen, in a language: prompt, menu pages, error line, quotes.

The checker lays out the same screens with worst-case answers, so what passes the check is
what the engine shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.flows.inputs import INPUTS, Choice, Spec
from gateway.flows.model import Flow, Step, localise
from gateway.flows.pagination import LIMIT, Page, paginate
from gateway.flows.texts import SystemTexts, fill

MISSING_ANSWER = "-"  # what {key} shows for a question skipped or not reached


@dataclass(frozen=True)
class Screen:
    text: str  # without the "CON "/"END " prefix; at most `limit` (USSD: 182) characters
    final: bool  # True: the session ends (END)


def system_text(flow: Flow, texts: SystemTexts, key: str, language: str, **values: object) -> str:
    return texts.text(key, language, fallback=flow.default_language, **values)


def menu(flow: Flow, texts: SystemTexts, step: Step, language: str) -> tuple[Choice, ...]:
    """The numbered entries of a choice, yes/no or language step."""
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
    longest = max((len(error) for error in error_texts(flow, texts, step, language)), default=-1)
    return longest + 1


def quotes(
    flow: Flow, texts: SystemTexts, answers: Mapping[str, str | int], language: str
) -> dict[str, str]:
    """What `{key}` shows for each result key: a choice's label in the citizen's language."""
    shown = {step.result: MISSING_ANSWER for step in flow.steps.values() if step.result}
    for key, value in answers.items():
        shown[key] = quote(flow, texts, key, value, language)
    return shown


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
    top = header(flow, texts, step, language, quoted)
    labels = [choice.label for choice in menu(flow, texts, step, language)]
    more = system_text(flow, texts, "more", language)
    back = system_text(flow, texts, "back", language)
    return paginate(top, labels, more, back, limit, reserve(flow, texts, step, language))


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
    quoted = quotes(flow, texts, answers, language)
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
