"""Counting a flow's runs: answers per question, breakdowns by group, and the drop-off funnel.

Pure functions over FlowRun rows; the caller leaves simulated runs out. A question's answers
are counted over completed runs only: a citizen who hung up before confirming did not send
their vote. The funnel counts every run, since leaving is what it measures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.flows.model import Flow, Step
from gateway.models import FlowRun
from gateway.staff.results.labels import label_of, prompt_text, step_label

QUESTION_TYPES = ("choice", "yesno", "number")
CONFIRM = "confirm"  # the result key of a flow's "send your answers?" step: not a question
YESNO = (("yes", "Yes"), ("no", "No"))
NUMBER_SPAN = 20  # a number question with a range this small gets one bar per value, zeros too
NOT_GIVEN = "Not given"
CHANNEL_NAMES = {"ussd": "USSD", "sms": "SMS"}


@dataclass(frozen=True)
class Question:
    """A step whose answer is one of a set: choice, yesno or number."""

    key: str  # the result key: run.answers[key]
    step: Step
    label: str  # the prompt, in the flow's default language
    options: tuple[tuple[str, str], ...]  # (value, label); a number step's come from the answers


@dataclass(frozen=True)
class Count:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Tally:
    question: Question
    counts: tuple[Count, ...]
    total: int  # completed runs that answered the question

    def percent(self, count: int) -> int:
        return round(100 * count / self.total) if self.total else 0


@dataclass(frozen=True)
class Dimension:
    """A way to split the people who answered: by ward, language, channel or age band."""

    key: str
    title: str
    groups: tuple[tuple[str, str], ...]  # (value, label) in display order
    value_of: Callable[[FlowRun], str | None]
    source: str | None = None  # the result key it reads, if any (not split by itself)


@dataclass(frozen=True)
class Breakdown:
    dimension: Dimension
    columns: tuple[Count, ...]  # the question's options, with their overall counts
    rows: tuple[tuple[str, tuple[int, ...], int], ...]  # (group label, counts per column, total)


@dataclass(frozen=True)
class FunnelStep:
    step: str  # the step id
    label: str  # a short name for people: "Which ward do you live in?"
    reached: int  # runs that got to this step
    left: int  # runs that ended here without completing (hung up, timed out, failed)


def questions(flow: Flow) -> list[Question]:
    """The steps worth a chart; the confirmation step is left out (every completed run says
    "send"), though the exports keep its answer."""
    return [_question(flow, step) for step in flow.steps.values()
            if step.type in QUESTION_TYPES and step.result and step.result != CONFIRM]


def text_steps(flow: Flow) -> list[Step]:
    """The free-text steps: their answers are the comments."""
    return [step for step in flow.steps.values() if step.type == "text" and step.result]


def _question(flow: Flow, step: Step) -> Question:
    if step.type == "yesno":
        options: tuple[tuple[str, str], ...] = YESNO
    elif step.type == "number" and step.min is not None and step.max is not None \
            and step.max - step.min <= NUMBER_SPAN:
        options = tuple((str(n), str(n)) for n in range(step.min, step.max + 1))
    else:
        options = tuple((o.value, label_of(flow, o.label)) for o in step.options)
    return Question(str(step.result), step, prompt_text(flow, step), options)


def completed(runs: Iterable[FlowRun]) -> list[FlowRun]:
    return [run for run in runs if run.status == "completed"]


def answer(run: FlowRun, key: str) -> str | None:
    value = (run.answers or {}).get(key)
    return None if value is None or value == "" else str(value)


def tally(question: Question, runs: Sequence[FlowRun]) -> Tally:
    """Counts per option over completed runs, options in the flow's order; an answer the flow
    no longer offers (an edited flow) is counted too, after them."""
    found = Counter(a for run in completed(runs) if (a := answer(run, question.key)) is not None)
    options = list(question.options)
    known = {value for value, _ in options}
    options += [(value, value) for value in sorted(set(found) - known, key=_number_first)]
    counts = tuple(Count(value, label, found[value]) for value, label in options)
    return Tally(question, counts, sum(found.values()))


def _number_first(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def dimensions(flow: Flow, language_names: Mapping[str, str]) -> list[Dimension]:
    """Ward and age band when the flow asks for them (its `ward` and `age` answers), language
    and channel always; in that reading order: ward, language, channel, age band."""
    found = [_answer_dimension(flow, "ward", "Ward"),
             Dimension("language", "Language",
                       tuple((code, language_names.get(code, code)) for code in flow.languages),
                       lambda run: run.language),
             Dimension("channel", "Channel", tuple(CHANNEL_NAMES.items()),
                       lambda run: run.channel),
             _answer_dimension(flow, "age", "Age band")]
    return [dimension for dimension in found if dimension is not None]


def _answer_dimension(flow: Flow, key: str, title: str) -> Dimension | None:
    producers = [step for step in flow.producers(key) if step.options]
    if not producers:
        return None
    groups = tuple((o.value, label_of(flow, o.label)) for o in producers[0].options)
    return Dimension(key, title, groups, _answer_getter(key), source=key)


def _answer_getter(key: str) -> Callable[[FlowRun], str | None]:
    return lambda run: answer(run, key)


def breakdown(counted: Tally, dimension: Dimension, runs: Sequence[FlowRun]) -> Breakdown:
    """The question's counts split by the dimension's groups; people outside every group
    (no answer, an old value) are one "Not given" row, so the rows add up to the total.
    Options nobody chose have no column: the chart already says 0, so they hide nothing."""
    columns = tuple(count for count in counted.counts if count.count)
    column = {count.value: i for i, count in enumerate(columns)}
    known = {value for value, _ in dimension.groups}
    cells: dict[str, list[int]] = {}
    for run in completed(runs):
        value = answer(run, counted.question.key)
        if value is None:
            continue
        group = dimension.value_of(run)
        group = group if group in known else NOT_GIVEN
        cells.setdefault(group, [0] * len(column))[column[value]] += 1
    labelled = [*dimension.groups, (NOT_GIVEN, NOT_GIVEN)]
    rows = tuple((label, tuple(cells[value]), sum(cells[value]))
                 for value, label in labelled if value in cells)
    return Breakdown(dimension, columns, rows)


def funnel(flow: Flow, runs: Sequence[FlowRun]) -> list[FunnelStep]:
    """How many runs reached each step, and how many ended there without completing.

    A run reached the steps it answered, the step it ended on, and every step that lies on all
    paths to those (so an optional comment skipped with "0" still counts as reached)."""
    dominators = _dominators(flow)
    reached: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for run in runs:
        visited = {flow.first_step(run.channel) or ""}
        visited |= {step.id for step in flow.steps.values()
                    if step.result and answer(run, step.result) is not None}
        if run.last_step in flow.steps:
            visited.add(str(run.last_step))
            if run.status != "completed":
                left[str(run.last_step)] += 1
        reached.update(set().union(*(dominators.get(s, {s}) for s in visited)))
    return [FunnelStep(step.id, step_label(flow, step), reached[step.id], left[step.id])
            for step in flow.steps.values() if step.type != "end"]


def _dominators(flow: Flow) -> dict[str, set[str]]:
    """For each step, the steps every path from the start passes through (itself included)."""
    start = flow.start
    if start is None:
        return {}
    preds: dict[str, set[str]] = {name: set() for name in flow.steps}
    for step in flow.steps.values():
        for target in step.targets():
            if target in preds:
                preds[target].add(step.id)
    everything = set(flow.steps)
    dom = {name: set(everything) for name in flow.steps}
    dom[start] = {start}
    changed = True
    while changed:
        changed = False
        for name in flow.steps:
            if name == start:
                continue
            incoming = [dom[p] for p in preds[name]]
            new = ({name} | set.intersection(*incoming)) if incoming else {name}
            if new != dom[name]:
                dom[name], changed = new, True
    return dom
