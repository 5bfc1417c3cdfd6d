"""The pure flow engine: given a flow, a run's state and the citizen's input, the next turn.

No I/O, no clock, no randomness: the host (USSD or SMS) loads the state, calls `start`,
`resume` or `offer_resume`, shows `turn.screen`, saves `turn.state` and applies `turn.events`
(answers saved, language remembered, run finished). Run ids come from the host.

`limit` is the size of one screen: USSD's 182 characters by default; the SMS host passes a
whole message's worth (1600), so its menus come unpaginated, every option in one SMS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from gateway.flows import own_reports
from gateway.flows import render as layout
from gateway.flows.inputs import INPUTS, Accepted, Rejected, Spec, parse_choice
from gateway.flows.model import Flow, Option, ReportLine, Step
from gateway.flows.pagination import LIMIT
from gateway.flows.render import Screen
from gateway.flows.texts import SystemTexts

if TYPE_CHECKING:
    from gateway.areas import AreaTree

Answer = str | int
MATCH = "?"  # RunState.area prefix: the "Did you mean" choice of typed place names


@dataclass(frozen=True)
class FlowData:
    """What the host lends the engine: the area tree, its channel, values such as `{reference}`.

    `reports` are the citizen's own reports for a `reports` step, newest first; None when
    the host could not read them (the step then says "not available now").
    """

    areas: AreaTree | None = None
    channel: str = "ussd"  # picks a step's `max_length = { ussd = 60, sms = 500 }`
    context: Mapping[str, str] = field(default_factory=dict)
    reports: tuple[ReportLine, ...] | None = None


NO_DATA = FlowData()


@dataclass(frozen=True)
class RunState:
    run_id: str
    flow: str
    step: str  # the step awaiting the citizen's input
    language: str
    answers: dict[str, Answer] = field(default_factory=dict)
    page: int = 0  # page shown of a paged menu
    attempts: int = 0  # invalid answers on the current step
    pending: str | None = None  # "resume" while continue/start-again is on screen
    done: bool = False
    area: str = ""  # an area step: the area whose children are listed ("" = the top level)
    pick: str = ""  # a reports step: the reference of the report picked from the list

    def evolve(self, **changes: Any) -> RunState:
        """A copy with `changes`, like `dataclasses.replace` but a few times cheaper (it looks
        the fields up on every call; a hop makes several copies). Unknown fields: TypeError."""
        if not _RUN_STATE_FIELDS.issuperset(changes):
            unknown = ", ".join(sorted(set(changes) - _RUN_STATE_FIELDS))
            raise TypeError(f"RunState has no field {unknown}")
        copy = object.__new__(RunState)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def to_json(self) -> str:
        """Compact: stored in Redis for every open run (demo flows stay well under 400 bytes)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def to_dict(self) -> dict[str, object]:
        """What `to_json` writes, before encoding (for hosts that embed it in their own JSON)."""
        data: dict[str, object] = {
            "i": self.run_id,
            "f": self.flow,
            "s": self.step,
            "l": self.language,
            "a": self.answers,
        }
        if self.page:
            data["p"] = self.page
        if self.attempts:
            data["n"] = self.attempts
        if self.pending:
            data["r"] = self.pending
        if self.done:
            data["d"] = 1
        if self.area:
            data["w"] = self.area
        if self.pick:
            data["k"] = self.pick
        return data

    @classmethod
    def from_json(cls, raw: str | bytes) -> RunState:
        """Raises ValueError on anything `to_json` could not have written."""
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"not a run state: {error}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> RunState:
        """What `to_dict` gave, decoded; raises ValueError on anything else."""
        try:
            state = cls(
                run_id=data["i"],
                flow=data["f"],
                step=data["s"],
                language=data["l"],
                answers=data["a"],
                page=data.get("p", 0),
                attempts=data.get("n", 0),
                pending=data.get("r"),
                done=bool(data.get("d", 0)),
                area=data.get("w", ""),
                pick=data.get("k", ""),
            )
        except (TypeError, KeyError, ValueError) as error:
            raise ValueError(f"not a run state: {error}") from None
        texts = (state.run_id, state.flow, state.step, state.language)
        if not all(isinstance(text, str) for text in texts) or not isinstance(state.answers, dict):
            raise ValueError("not a run state: wrong field types")
        if not isinstance(state.area, str) or not isinstance(state.pick, str):
            raise ValueError("not a run state: wrong field types")
        return state


_RUN_STATE_FIELDS = frozenset(f.name for f in fields(RunState))


@dataclass(frozen=True)
class AnswerRecorded:
    key: str
    value: Answer
    step: str


@dataclass(frozen=True)
class LanguageChosen:
    language: str


@dataclass(frozen=True)
class RunCompleted:
    state: RunState  # done, at an end step


@dataclass(frozen=True)
class RunAbandoned:
    state: RunState
    reason: str  # "too_many_attempts" | "restarted" | "flow_changed"


Event = AnswerRecorded | LanguageChosen | RunCompleted | RunAbandoned


@dataclass(frozen=True)
class Turn:
    state: RunState
    screen: Screen
    events: tuple[Event, ...] = ()


class FlowBroken(RuntimeError):
    """The flow leads nowhere (no next step, unknown step): `gateway flows check` reports it."""


def start(
    flow: Flow,
    texts: SystemTexts,
    *,
    run_id: str,
    language: str | None,
    limit: int = LIMIT,
    data: FlowData = NO_DATA,
) -> Turn:
    """A new run. A remembered `language` (if the flow speaks it) skips a leading picker."""
    known = language if language in flow.languages else None
    first = flow.first_step(data.channel)
    if first is None:
        raise FlowBroken(f'flow "{flow.name}" has no steps')
    state = RunState(run_id, flow.name, first, known or flow.default_language)
    if known is not None and flow.steps[first].type == "language":
        return _enter(flow, texts, state, flow.steps[first].next_step({}), (), limit, data)
    return _enter(flow, texts, state, first, (), limit, data)


def resume(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    text: str,
    *,
    fresh_run_id: str,
    limit: int = LIMIT,
    data: FlowData = NO_DATA,
) -> Turn:
    """The citizen's next input on an open run; `fresh_run_id` names a run started over."""
    if state.done:
        return start(
            flow, texts, run_id=fresh_run_id, language=state.language, limit=limit, data=data
        )
    if state.step not in flow.steps:
        return _restart(flow, texts, state, "flow_changed", fresh_run_id, limit, data)
    if state.pending == "resume":
        return _answer_resume(flow, texts, state, text, fresh_run_id, limit, data)
    step = shown_step(flow, flow.steps[state.step], state, data, texts)
    moved = _navigate(flow, texts, state, step, text.strip(), limit, data)
    if moved is not None:
        return Turn(moved, render(flow, texts, moved, limit=limit, data=data))
    if step.type == "choice" and flow.steps[state.step].type == "area":
        return _answer_area(flow, texts, state, step, text, limit, data)
    if step.type == "choice" and flow.steps[state.step].type == "reports":
        return _answer_reports(flow, texts, state, step, text, limit, data)
    parsed = INPUTS[step.type].parse(text, layout.spec(flow, texts, step, state.language))
    if isinstance(parsed, Rejected):
        return _reject(flow, texts, state, parsed, limit, data)
    return _save(flow, texts, state, step, parsed.value, limit, data)


def _save(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    step: Step,
    value: Answer | None,
    limit: int,
    data: FlowData,
) -> Turn:
    answers = dict(state.answers)
    events: tuple[Event, ...] = ()
    language = state.language
    if step.type == "language":
        language = str(value)
        events = (LanguageChosen(language),)
    elif step.result and value is None:
        answers.pop(step.result, None)
    elif step.result and value is not None:
        answers[step.result] = value
        events = (AnswerRecorded(step.result, value, step.id),)
    moved = state.evolve(language=language, answers=answers)
    return _enter(flow, texts, moved, step.next_step(answers), events, limit, data)


def offer_resume(
    flow: Flow, texts: SystemTexts, state: RunState, *, limit: int = LIMIT, data: FlowData = NO_DATA
) -> Turn:
    """Ask a citizen who dials again whether to continue the open run or start again."""
    asking = state.evolve(pending="resume")
    return Turn(asking, render(flow, texts, asking, limit=limit, data=data))


def render(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    error: str | None = None,
    *,
    limit: int = LIMIT,
    data: FlowData = NO_DATA,
) -> Screen:
    """The screen for a state as it stands (the same state always gives the same screen)."""
    if state.pending == "resume":
        return layout.resume_screen(flow, texts, state.language, error, limit)
    own = flow.steps[state.step]
    if own.type == "reports" and (state.done or not data.reports):
        if state.attempts < flow.max_attempts:  # a report's detail, or no list to show
            text = own_reports.final_text(
                flow, texts, own, state.language, data.reports, state.pick, data.areas)
            return Screen(layout.clip(text, limit), True)
    step = shown_step(flow, own, state, data, texts)
    if state.done and step.type != "end":
        return layout.end_screen(flow, texts, "too_many_attempts", state.language, limit)
    answers = {**data.context, **state.answers} if step.type == "end" else dict(state.answers)
    for area_step in flow.steps.values():
        code = answers.get(area_step.result or "")
        if area_step.type == "area" and data.areas is not None and str(code) in data.areas:
            answers[str(area_step.result)] = data.areas.get(str(code)).label
    return layout.step_screen(flow, texts, step, state.language, answers, state.page, error, limit)


def shown_step(
    flow: Flow, step: Step, state: RunState, data: FlowData, texts: SystemTexts | None = None
) -> Step:
    """The step as this channel and run see it: an area step becomes the menu of one level,
    a reports step the menu of the citizen's reports (its labels need `texts`)."""
    if step.type == "text" and data.channel in step.channel_max_length:
        return layout.remember(  # the same step for every run: built once per channel
            (step,), ("channel", data.channel),
            lambda: replace(step, max_length=step.channel_max_length[data.channel]))
    if step.type == "reports":
        if texts is None:
            raise FlowBroken(f'step "{step.id}" lists reports: the system texts are needed')
        picked = own_reports.find(data.reports, state.pick) if state.pick else None
        return own_reports.as_menu(
            flow, texts, step, state.language, data.reports or (), picked, data.areas)
    if step.type != "area":
        return step
    if data.areas is None:
        raise FlowBroken(f'step "{step.id}" lists areas but the host gave no area tree')
    if state.area.startswith(MATCH):
        areas = [data.areas.get(code) for code in state.area[1:].split("|")]
        prompt = step.prompts.get("match", {})
        labels = [(a.code, data.areas.address(a.code)) for a in areas]
    else:
        areas = data.areas.children(state.area or None)
        level = step.levels[len(data.areas.path(state.area)) if state.area else 0]
        prompt = step.prompts.get(level, {})
        labels = [(a.code, a.label) for a in areas]
    options = tuple(Option(code, {"": label}) for code, label in labels)
    return replace(step, type="choice", prompt=prompt, options=options)


def area_parent(state: RunState, data: FlowData) -> str:
    """Where "0" on the first page of an area menu goes: one level up."""
    if not state.area or state.area.startswith(MATCH) or data.areas is None:
        return ""
    return data.areas.get(state.area).parent or ""


def _answer_area(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    shown: Step,
    text: str,
    limit: int,
    data: FlowData,
) -> Turn:
    """A menu number, or over SMS a typed place name; a region or district opens its children."""
    assert data.areas is not None
    step = flow.steps[state.step]
    parsed = parse_choice(text, layout.spec(flow, texts, shown, state.language))
    reply = text.strip()
    if isinstance(parsed, Rejected) and data.channel == "sms" and not reply.isdigit():
        found = _typed_place(data.areas, reply, step.levels)
        if len(found) > 1:
            asking = state.evolve(area=MATCH + "|".join(found[:9]), page=0, attempts=0)
            return Turn(asking, render(flow, texts, asking, limit=limit, data=data))
        if found:
            parsed = Accepted(found[0])
    if isinstance(parsed, Rejected):
        return _reject(flow, texts, state, parsed, limit, data)
    code = str(parsed.value)
    if data.areas.get(code).level != step.levels[-1]:
        opened = state.evolve(area=code, page=0, attempts=0)
        return Turn(opened, render(flow, texts, opened, limit=limit, data=data))
    return _save(flow, texts, state.evolve(area=""), step, code, limit, data)


def _answer_reports(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    shown: Step,
    text: str,
    limit: int,
    data: FlowData,
) -> Turn:
    """A report picked from the list, or what to do with it: reopen it, or go back."""
    step = flow.steps[state.step]
    parsed = parse_choice(text, layout.spec(flow, texts, shown, state.language))
    if isinstance(parsed, Rejected):
        return _reject(flow, texts, state, parsed, limit, data)
    value = str(parsed.value)
    if not state.pick:
        line = own_reports.find(data.reports, value)
        if line is not None and line.reopenable:
            asking = state.evolve(pick=value, page=0, attempts=0)
            return Turn(asking, render(flow, texts, asking, limit=limit, data=data))
        answers = {**state.answers, str(step.result): value} if step.result else state.answers
        shown_detail = state.evolve(pick=value, answers=answers, done=True, attempts=0)
        events: tuple[Event, ...] = (RunCompleted(shown_detail),)
        if step.result:
            events = (AnswerRecorded(step.result, value, step.id), *events)
        return Turn(shown_detail, render(flow, texts, shown_detail, limit=limit, data=data), events)
    if value == own_reports.BACK:
        listing = state.evolve(pick="", page=0, attempts=0)
        return Turn(listing, render(flow, texts, listing, limit=limit, data=data))
    answers = dict(state.answers)
    recorded: tuple[Event, ...] = (AnswerRecorded(own_reports.REOPEN, "yes", step.id),)
    if step.result:
        answers[step.result] = state.pick
        recorded = (AnswerRecorded(step.result, state.pick, step.id), *recorded)
    answers[own_reports.REOPEN] = "yes"
    moved = state.evolve(answers=answers, pick="")
    return _enter(flow, texts, moved, step.next_step(answers), recorded, limit, data)


def _typed_place(areas: AreaTree, reply: str, levels: tuple[str, ...]) -> list[str]:
    """Codes of the places a typed name may mean: wards first, then districts, then regions."""
    for level in reversed(levels):
        found = areas.match(reply, level)
        if found:
            return [area.code for area in found]
    return []


def _enter(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    step_id: str | None,
    events: tuple[Event, ...],
    limit: int,
    data: FlowData = NO_DATA,
) -> Turn:
    if step_id is None or step_id not in flow.steps:
        raise FlowBroken(f'step "{state.step}" leads to no known step ({step_id!r})')
    entered = state.evolve(step=step_id, page=0, attempts=0, area="", pick="")
    if flow.steps[step_id].type == "end" or (
        flow.steps[step_id].type == "reports" and not data.reports
    ):  # an end step, or "My reports" with nothing to list: the END screen says so
        entered = entered.evolve(done=True)
        events += (RunCompleted(entered),)
    return Turn(entered, render(flow, texts, entered, limit=limit, data=data), events)


def _navigate(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    step: Step,
    reply: str,
    limit: int,
    data: FlowData,
) -> RunState | None:
    """`98` (More) and `0` (Back) on a paged menu; None when the reply is not navigation.

    On an area menu "0" on the first page goes up one level (or back from "Did you mean").
    """
    if not step.is_menu or reply not in ("98", "0"):
        return None
    quoted = layout.quotes(flow, texts, state.answers, state.language)
    pages = layout.pages(flow, texts, step, state.language, quoted, limit)
    page = min(state.page, len(pages) - 1)
    if reply == "98" and pages[page].has_more:
        return state.evolve(page=page + 1)
    if reply == "0" and pages[page].has_back:
        return state.evolve(page=page - 1)
    if reply == "0" and page == 0 and state.area:
        return state.evolve(area=area_parent(state, data), page=0, attempts=0)
    return None


def _reject(
    flow: Flow, texts: SystemTexts, state: RunState, parsed: Rejected, limit: int, data: FlowData
) -> Turn:
    attempts = state.attempts + 1
    if attempts >= flow.max_attempts:
        ended = state.evolve(attempts=attempts, done=True)
        screen = layout.end_screen(flow, texts, "too_many_attempts", state.language, limit)
        return Turn(ended, screen, (RunAbandoned(ended, "too_many_attempts"),))
    retry = state.evolve(attempts=attempts)
    error = layout.system_text(flow, texts, parsed.error, state.language, **parsed.values)
    return Turn(retry, render(flow, texts, retry, error, limit=limit, data=data))


def _answer_resume(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    text: str,
    fresh_run_id: str,
    limit: int,
    data: FlowData,
) -> Turn:
    parsed = parse_choice(text, Spec(layout.resume_menu(flow, texts, state.language)))
    if isinstance(parsed, Accepted) and parsed.value == "continue":
        continued = state.evolve(pending=None)
        return Turn(continued, render(flow, texts, continued, limit=limit, data=data))
    if isinstance(parsed, Accepted):
        restarted = state.evolve(pending=None)
        return _restart(flow, texts, restarted, "restarted", fresh_run_id, limit, data)
    error = layout.system_text(flow, texts, "invalid_choice", state.language)
    return Turn(state, render(flow, texts, state, error, limit=limit, data=data))


def _restart(
    flow: Flow,
    texts: SystemTexts,
    state: RunState,
    reason: str,
    fresh_run_id: str,
    limit: int,
    data: FlowData,
) -> Turn:
    fresh = start(
        flow, texts, run_id=fresh_run_id, language=state.language, limit=limit, data=data
    )
    return Turn(fresh.state, fresh.screen, (RunAbandoned(state, reason), *fresh.events))
