"""A `reports` step: "My reports", the citizen's own reports as a menu, and reopening one.

The host lends the lines (`FlowData.reports`, newest first); this module only lays them out:

- the list: `R-7K3Q Water: resolved`, one numbered entry per report;
- a picked report that may be reopened: its detail, then 1. Reopen it, 2. Back;
- a picked report that may not: its detail on an END screen;
- no reports (or none could be read): an END screen saying so.

Labels come from the flow itself (the category step's option labels), the area tree and the
system texts (`report_status_<status>`), so every shipped language reads naturally.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from gateway.flows.model import Flow, Option, ReportLine, Step, localise
from gateway.flows.render import quote, system_text
from gateway.flows.texts import SystemTexts

if TYPE_CHECKING:
    from gateway.areas import AreaTree

NOTE_ROOM = 32  # characters of the latest note a detail screen shows (the checker proves the fit)
CATEGORY_KEY = "category"  # the report flow's category answer (see flows/report.toml)
REOPEN = "reopen"
BACK = "back"


def line_label(flow: Flow, texts: SystemTexts, line: ReportLine, language: str) -> str:
    category = quote(flow, texts, CATEGORY_KEY, line.category, language)
    return f"{line.reference} {category}: {status_name(flow, texts, line.status, language)}"


def detail(
    flow: Flow, texts: SystemTexts, line: ReportLine, language: str, areas: AreaTree | None
) -> str:
    """`R-7K3Q Water, Railways: resolved. Pipe repaired` (the note clipped to fit a screen)."""
    category = quote(flow, texts, CATEGORY_KEY, line.category, language)
    place = areas.get(line.ward).label if areas is not None and line.ward in areas else ""
    where = f"{category}, {place}" if place else category
    text = f"{line.reference} {where}: {status_name(flow, texts, line.status, language)}."
    note = " ".join(line.note.split())
    if note:
        text += " " + (note if len(note) <= NOTE_ROOM else note[: NOTE_ROOM - 1] + "…")
    return text


def status_name(flow: Flow, texts: SystemTexts, status: str, language: str) -> str:
    return system_text(flow, texts, f"report_status_{status}", language).strip()


def find(lines: tuple[ReportLine, ...] | None, reference: str) -> ReportLine | None:
    return next((line for line in lines or () if line.reference == reference), None)


def as_menu(
    flow: Flow,
    texts: SystemTexts,
    step: Step,
    language: str,
    lines: tuple[ReportLine, ...],
    picked: ReportLine | None,
    areas: AreaTree | None,
) -> Step:
    """The step as a plain choice: the list of reports, or what to do with the picked one."""
    if picked is None:
        options = tuple(
            Option(line.reference, {"": line_label(flow, texts, line, language)}) for line in lines
        )
        prompt = step.prompts.get("list", {})
        return replace(step, type="choice", prompt=prompt, options=options)
    ask = localise(step.prompts.get("reopen", {}), language, flow.default_language)
    prompt = {"": detail(flow, texts, picked, language, areas) + "\n" + ask}
    options = (
        Option(REOPEN, step.prompts.get("reopen_option", {})),
        Option(BACK, {"": system_text(flow, texts, "back", language).strip()}),
    )
    return replace(step, type="choice", prompt=prompt, options=options)


def final_text(
    flow: Flow,
    texts: SystemTexts,
    step: Step,
    language: str,
    lines: tuple[ReportLine, ...] | None,
    picked: str,
    areas: AreaTree | None,
) -> str:
    """The END screen of a reports step: a picked report's detail, or why there is no list."""
    line = find(lines, picked)
    if line is not None:
        return detail(flow, texts, line, language, areas)
    if lines is None:
        return system_text(flow, texts, "reports_unavailable", language).strip()
    return localise(step.prompts.get("empty", {}), language, flow.default_language)
