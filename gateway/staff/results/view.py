"""The figures a results page shows, built from a flow and its runs (pure, no I/O).

`staff_view` is everything staff see: raw overall counts, breakdowns with small groups
suppressed, the funnel. `public_view` is what anyone may see: per-question charts only, every
count under the threshold hidden (and any count that would give one away).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from gateway.flows.model import Flow
from gateway.models import FlowRun
from gateway.staff.results import tally as t
from gateway.staff.results.charts import Bar, bar_chart, dom_id
from gateway.staff.results.suppress import Shown, suppress_line, suppress_table


@dataclass(frozen=True)
class Table:
    """A breakdown: hidden cells are None."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Shown, ...], Shown], ...]


@dataclass(frozen=True)
class QuestionView:
    key: str
    dom_id: str
    label: str
    total: Shown
    chart: Markup
    average: str | None = None
    breakdowns: tuple[Table, ...] = ()


@dataclass(frozen=True)
class StaffView:
    started: int
    completed: int
    completion: int  # percent of started runs that completed
    questions: tuple[QuestionView, ...]
    funnel: tuple[t.FunnelStep, ...]
    funnel_chart: Markup


@dataclass(frozen=True)
class PublicView:
    responses: Shown
    questions: tuple[QuestionView, ...]


def completion_rate(started: int, completed: int) -> int:
    return round(100 * completed / started) if started else 0


def staff_view(flow: Flow, runs: Sequence[FlowRun], *, small_group: int,
               language_names: Mapping[str, str]) -> StaffView:
    dimensions = t.dimensions(flow, language_names)
    done = t.completed(runs)
    shown = []
    for question in t.questions(flow):
        counted = t.tally(question, runs)
        bars = [Bar(c.value, c.label, c.count, counted.percent(c.count)) for c in counted.counts]
        tables = tuple(_table(t.breakdown(counted, dimension, runs), small_group)
                       for dimension in dimensions if dimension.source != question.key)
        shown.append(QuestionView(
            question.key, dom_id(question.key), question.label, counted.total,
            bar_chart(f"chart-{question.key}", question.label, bars, small_group),
            _average(counted) if question.step.type == "number" else None, tables))
    steps = tuple(t.funnel(flow, runs))
    started = len(runs)
    funnel_bars = [Bar(s.step, s.label, s.reached, completion_rate(started, s.reached))
                   for s in steps]
    return StaffView(
        started, len(done), completion_rate(started, len(done)), tuple(shown), steps,
        bar_chart("chart-funnel", "Runs that reached each step", funnel_bars, small_group))


def public_view(flow: Flow, runs: Sequence[FlowRun], *, small_group: int) -> PublicView:
    shown = []
    for question in t.questions(flow):
        counted = t.tally(question, runs)
        counts, total = suppress_line([c.count for c in counted.counts], counted.total,
                                      small_group)
        bars = [Bar(c.value, c.label, n, counted.percent(n) if n is not None else None)
                for c, n in zip(counted.counts, counts, strict=True)]
        shown.append(QuestionView(
            question.key, dom_id(question.key), question.label, total,
            bar_chart(f"chart-{question.key}", question.label, bars, small_group)))
    responses = len(t.completed(runs))
    return PublicView(responses if responses >= small_group else None, tuple(shown))


def _table(split: t.Breakdown, small_group: int) -> Table:
    cells, totals = suppress_table([row[1] for row in split.rows], [row[2] for row in split.rows],
                                   small_group, columns_known=True)
    rows = tuple((row[0], tuple(shown), total)
                 for row, shown, total in zip(split.rows, cells, totals, strict=True))
    return Table(f"By {split.dimension.title.lower()}",
                 tuple(c.label for c in split.columns), rows)


def _average(counted: t.Tally) -> str | None:
    numbers = [(float(c.value), c.count) for c in counted.counts if _is_number(c.value)]
    people = sum(n for _, n in numbers)
    return f"{sum(v * n for v, n in numbers) / people:.1f}" if people else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
