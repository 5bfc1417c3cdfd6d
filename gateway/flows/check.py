"""`gateway flows check`: every problem a flow file can have, as `file:line: message`.

Beyond what the loader finds while reading (typos in keys, wrong types, unknown step types, bad
ranges), this follows the links between steps, looks for missing translations and unknown
`{key}` quotes, and lays out every screen of every step in every language with the worst case
(longest error line, longest quoted answers, navigation) to prove it fits in 182 characters.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from gateway.areas import AreaTree, load_tree
from gateway.flows import engine, own_reports
from gateway.flows import render as layout
from gateway.flows.loader import (
    FlowError,
    Problem,
    flow_paths,
    load_flows,
    parse_flow,
    read_toml,
)
from gateway.flows.model import (
    MENU_TYPES,
    STEP_TYPES,
    Flow,
    Range,
    ReportLine,
    Route,
    Step,
    Texts,
)
from gateway.flows.pagination import LIMIT, MAX_OPTIONS, PaginationError
from gateway.flows.source import SourceMap
from gateway.flows.texts import SYSTEM_TEXTS, SystemTexts, placeholders, read_system_texts

SYSTEM_FILE = "_system.toml"
SYSTEM_ENDS = ("too_many_attempts", "unavailable", "apology", "reports_unavailable")
AREA_LABEL = 24  # the longest area label quoted, as gateway/areas/README.md asks
REPORT_CONTEXT = ("reference",)  # what a host passes to a `kind = "report"` flow
REFERENCE_SIZE = 7  # "R-7K3QX"


def check_flows(paths: Sequence[str | Path]) -> list[Problem]:
    """Problems in the flows at `paths` (directories or files), sorted by file and line."""
    return _check(paths)[0]


def main(paths: list[str], default_language: str = "en", areas_file: str = "") -> int:
    """Print the problems and return 1, or print "ok: N flows checked" and return 0."""
    problems, count = _check(paths or ["flows"], default_language, areas_file)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"ok: {count} flows checked")
    return 0


def load_checked(
    directory: str | Path, default_language: str = "en", *, areas_file: str = ""
) -> tuple[dict[str, Flow], SystemTexts]:
    """The flows and system texts of a directory, or FlowError with every problem found.

    What the server calls at start-up: it refuses to start on a flow that fails the check.
    """
    problems, _ = _check([directory], default_language, areas_file)
    if problems:
        raise FlowError(problems)
    return load_flows(directory), SystemTexts.load(Path(directory) / SYSTEM_FILE, default_language)


def _check(
    paths: Sequence[str | Path], default_language: str = "en", areas_file: str = ""
) -> tuple[list[Problem], int]:
    """`areas_file` ("" = bundled) is loaded only when a flow has an area step."""
    groups: dict[Path, list[Path]] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            groups.setdefault(path / SYSTEM_FILE, []).extend(flow_paths(path))
        elif path.name.startswith("_"):
            groups.setdefault(path, [])  # system texts only
        else:
            groups.setdefault(path.parent / SYSTEM_FILE, []).append(path)
    problems: list[Problem] = []
    count = 0
    for system_path, files in groups.items():
        texts, system_problems = _system(system_path, default_language)
        problems += system_problems
        system = (str(system_path), read_toml(system_path)[1]) if texts else None
        for file in files:
            problems += _check_file(file, texts, system, areas_file)
            count += 1
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line)), count


def _system(path: Path, default_language: str) -> tuple[SystemTexts | None, list[Problem]]:
    if not path.exists():
        return None, [Problem(str(path), 1, "missing system texts file (navigation, errors)")]
    texts, problems = read_system_texts(path, default_language)
    if texts is None or any(key not in texts.texts for key in SYSTEM_TEXTS):
        return None, problems  # screens cannot be laid out without every system text
    return texts, problems


def _check_file(
    path: Path,
    texts: SystemTexts | None,
    system: tuple[str, SourceMap] | None,
    areas_file: str = "",
) -> list[Problem]:
    if not path.exists():
        return [Problem(str(path), 1, "no such flow file")]
    try:
        data, source = read_toml(path)
    except FlowError as error:
        return error.problems
    flow, problems = parse_flow(data, file=str(path), source=source, stem=path.stem)
    areas = None
    if any(step.type == "area" for step in flow.steps.values()):
        try:
            areas = load_tree(areas_file or None)
        except (OSError, ValueError) as error:
            return [*problems, Problem(str(path), 1, f"cannot load the areas file: {error}")]
    problems += check_flow(flow, texts, file=str(path), source=source, areas=areas)
    if texts is not None and system is not None:
        problems += _system_problems(flow, texts, *system)
    return problems


def check_flow(
    flow: Flow,
    texts: SystemTexts | None,
    *,
    file: str = "<flow>",
    source: SourceMap | None = None,
    areas: AreaTree | None = None,
) -> list[Problem]:
    """What needs the whole flow: links, translations, quotes and, given texts, screen sizes.

    Works on a flow built in memory too (the hypothesis properties do that); lines are then 1.
    """
    checker = _FlowChecker(file, source or SourceMap(""), flow)
    checker.links()
    checker.translations()
    checker.quotes()
    if texts is not None:
        checker.screens(texts)
        if any(step.type == "area" for step in flow.steps.values()):
            checker.area_screens(texts, areas if areas is not None else load_tree(None))
        if any(step.type == "reports" for step in flow.steps.values()):
            checker.reports_screens(texts, areas if areas is not None else load_tree(None))
    return checker.problems


class _FlowChecker:
    def __init__(self, file: str, source: SourceMap, flow: Flow):
        self.file = file
        self.source = source
        self.flow = flow
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def at(self, step: Step, key: str | None = None) -> int:
        return self.source.step_line(step.id, key)

    def option_at(self, step: Step, value: str) -> int:
        return self.source.option_line(step.id, value)

    # links -------------------------------------------------------------------------------------

    def links(self) -> None:
        steps = self.flow.steps
        for step in steps.values():
            if step.next is not None and step.next not in steps:
                self.add(
                    self.at(step, "next"), f'step "{step.id}" points to unknown step "{step.next}"'
                )
            if step.type and step.type != "end" and step.next is None:
                self.add(self.at(step), f'step "{step.id}" has no next step')
            for index, route in enumerate(step.routes):
                if route.goto not in steps:
                    line = self.source.route_line(step.id, index, "goto", route.goto)
                    self.add(line, f'step "{step.id}" points to unknown step "{route.goto}"')
                self.conditions(step, index, route)
        self.reachable()

    def reachable(self) -> None:
        start = self.flow.start
        if start is None:
            return
        seen = {start, *(s for s in self.flow.entry.values() if s in self.flow.steps)}
        todo = list(seen)
        while todo:
            for target in self.flow.steps[todo.pop()].targets():
                if target in self.flow.steps and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for step in self.flow.steps.values():
            if step.id not in seen:
                self.add(
                    self.at(step),
                    f'step "{step.id}" cannot be reached from the start step "{start}"',
                )

    def conditions(self, step: Step, index: int, route: Route) -> None:
        for key, cond in route.when.items():
            line = self.source.route_line(step.id, index, "when")
            producers = self.flow.producers(key)
            if not producers:
                self.add(line, f'step "{step.id}": route tests unknown answer "{key}"')
                continue
            if isinstance(cond, Range):
                if any(p.type != "number" for p in producers):
                    self.add(
                        line,
                        f'step "{step.id}": route tests "{key}" with {{ min, max }} '
                        "but it is not a number answer",
                    )
                continue
            allowed = _values(producers)
            values = cond if isinstance(cond, tuple) else (cond,)
            for value in values:
                if allowed is not None and str(value) not in allowed:
                    self.add(
                        line,
                        f'step "{step.id}": route value "{value}" is not an answer '
                        f'of "{key}" (one of {", ".join(sorted(allowed))})',
                    )

    # texts -------------------------------------------------------------------------------------

    def translations(self) -> None:
        self.languages(self.flow.title, "[flow] title", self.source.line(("flow",), "title"))
        for step in self.flow.steps.values():
            where = f'step "{step.id}"'
            if step.prompt:
                self.languages(step.prompt, f"{where} prompt", self.at(step, "prompt"))
            if step.text:
                self.languages(step.text, f"{where} text", self.at(step, "text"))
            for level, prompt in step.prompts.items():
                self.languages(prompt, f"{where} {level} prompt", self.at(step, "prompts"))
            for option in step.options:
                self.languages(
                    option.label,
                    f'{where}: option "{option.value}" label',
                    self.option_at(step, option.value),
                )

    def languages(self, texts: Texts, where: str, line: int) -> None:
        if not texts:
            return
        for language in self.flow.languages:
            if language not in texts:
                self.add(line, f'{where} has no "{language}" text')
        for language in texts:
            if language not in self.flow.languages:
                self.add(
                    line,
                    f'{where} has a "{language}" text but the flow does not declare that language',
                )

    def quotes(self) -> None:
        known = {step.result for step in self.flow.steps.values() if step.result}
        if self.flow.kind == "report":
            known |= set(REPORT_CONTEXT)
        for step in self.flow.steps.values():
            prompts = [("prompts", texts) for texts in step.prompts.values()]
            for key, texts in (("prompt", step.prompt), ("text", step.text), *prompts):
                for language, text in texts.items():
                    for name in placeholders(text):
                        if name not in known:
                            self.add(
                                self.at(step, key),
                                f'step "{step.id}": {key} ({language}) '
                                f"quotes unknown answer {{{name}}}",
                            )
            for option in step.options:
                for language, text in option.label.items():
                    for name in placeholders(text):
                        self.add(
                            self.option_at(step, option.value),
                            f'step "{step.id}": option "{option.value}" label ({language}) '
                            f"has {{{name}}}; only prompts and end texts quote answers",
                        )

    # screens -----------------------------------------------------------------------------------

    def screens(self, texts: SystemTexts) -> None:
        for language in self.flow.languages:
            worst = self.worst_quotes(texts, language)
            for step in self.flow.steps.values():
                if step.type in STEP_TYPES and step.type not in ("area", "reports"):
                    self.screen(texts, step, language, worst)

    def area_screens(self, texts: SystemTexts, areas: AreaTree) -> None:
        """Every page of every area menu (each level under each area), in every language."""
        parents = [""] + [a.code for a in areas if a.level != "ward"]
        for step in self.flow.steps.values():
            if step.type != "area" or not step.prompts:
                continue
            data = engine.FlowData(areas=areas)
            for language in self.flow.languages:
                worst = self.worst_quotes(texts, language)
                for parent in parents:
                    if parent and len(areas.path(parent)) >= len(step.levels):
                        continue
                    state = engine.RunState("check", self.flow.name, step.id, language, area=parent)
                    shown = engine.shown_step(self.flow, step, state, data)
                    if len(shown.options) > MAX_OPTIONS:
                        self.add(self.at(step), f'step "{step.id}": "{parent}" has too many areas')
                        continue
                    try:
                        layout.pages(self.flow, texts, shown, language, worst)
                    except PaginationError as error:
                        under = parent or "the top"
                        where = f'step "{step.id}" ({language}) under "{under}"'
                        self.add(self.at(step, "prompts"), f"{where}: {error}")

    def reports_screens(self, texts: SystemTexts, areas: AreaTree) -> None:
        """A reports step: its list, a resolved report's detail with the reopen menu, its END
        screens, laid out with the longest category, ward name, status and note."""
        for step in self.flow.steps.values():
            if step.type != "reports":
                continue
            if self.flow.kind != "report":
                self.add(self.at(step), f'step "{step.id}": only a report flow lists reports')
                continue
            for language in self.flow.languages:
                where = f'step "{step.id}" ({language})'
                line = self.worst_report(texts, language, areas)
                data = engine.FlowData(areas=areas, reports=(line,) * MAX_OPTIONS)
                for pick in ("", line.reference):
                    state = engine.RunState("check", self.flow.name, step.id, language, pick=pick)
                    shown = engine.shown_step(self.flow, step, state, data, texts)
                    try:
                        layout.pages(self.flow, texts, shown, language, {})
                    except PaginationError as error:
                        self.add(self.at(step, "prompts"), f"{where}: {error}")
                empty = own_reports.final_text(self.flow, texts, step, language, (), "", None)
                if len(empty) > LIMIT:
                    self.add(self.at(step, "prompts"),
                             f"{where}: the empty list's screen is {len(empty)} characters, "
                             f"over the limit of {LIMIT}")

    def worst_report(self, texts: SystemTexts, language: str, areas: AreaTree) -> ReportLine:
        """A report line whose labels are the longest this flow can show in `language`."""
        categories = [o.value for s in self.flow.producers(own_reports.CATEGORY_KEY)
                      for o in s.options] or ["X" * AREA_LABEL]
        category = max(categories, key=lambda code: len(
            layout.quote(self.flow, texts, own_reports.CATEGORY_KEY, code, language)))
        statuses = ("submitted", "acknowledged", "in_progress", "resolved", "closed", "rejected")
        status = max(statuses, key=lambda name: len(
            own_reports.status_name(self.flow, texts, name, language)))
        ward = max((a for a in areas if a.level == "ward"), key=lambda a: len(a.label)).code
        return ReportLine("R-" + "X" * (REFERENCE_SIZE - 2), category, ward, status,
                          note="X" * own_reports.NOTE_ROOM, reopenable=True)

    def screen(self, texts: SystemTexts, step: Step, language: str, worst: dict[str, str]) -> None:
        where = f'step "{step.id}" ({language})'
        if step.type in MENU_TYPES:
            if len(step.options) > MAX_OPTIONS:
                return  # reported by the loader
            try:
                layout.pages(self.flow, texts, step, language, worst)
            except PaginationError as error:
                line = (
                    self.option_at(step, step.options[error.number - 1].value)
                    if step.options
                    else self.at(step, "prompt")
                )
                self.add(line, f"{where}: {error}")
            return
        top = layout.header(self.flow, texts, step, language, worst)
        size = len(top) + layout.reserve(self.flow, texts, step, language)
        if size > LIMIT:
            end = step.type == "end"
            longest = "quoted answers" if end else "error line and quoted answers"
            self.add(
                self.at(step, "text" if end else "prompt"),
                f"{where}: the {'end ' if end else ''}screen can reach {size} characters "
                f"with the longest {longest}, over the limit of {LIMIT}",
            )

    def worst_quotes(self, texts: SystemTexts, language: str) -> dict[str, str]:
        """Each result key quoted as its longest possible answer in `language`."""
        longest: dict[str, int] = {}
        for step in self.flow.steps.values():
            if step.result:
                size = _longest_answer(self.flow, texts, step, language)
                longest[step.result] = max(longest.get(step.result, 1), size)
        if self.flow.kind == "report":
            longest["reference"] = REFERENCE_SIZE
        return {key: "X" * size for key, size in longest.items()}


def _system_problems(
    flow: Flow, texts: SystemTexts, file: str, source: SourceMap
) -> list[Problem]:
    """System texts in each of the flow's languages: present, known quotes, screens fit."""
    problems: list[Problem] = []

    def add(key: str, language: str | None, message: str) -> None:
        path = ("texts", key)
        line = (language and source.key_line(path, language)) or source.line(path)
        problems.append(Problem(file, line, message))

    for language in flow.languages:
        for key, allowed in SYSTEM_TEXTS.items():
            if not texts.has(key, language):
                add(key, None, f'text "{key}" has no "{language}" text')
                continue
            for name in placeholders(texts.texts[key][language]):
                if name not in allowed:
                    add(
                        key,
                        language,
                        f'text "{key}" ({language}) has unknown placeholder {{{name}}}',
                    )
        for key in SYSTEM_ENDS:
            size = len(layout.system_text(flow, texts, key, language))
            if size > LIMIT:
                add(
                    key,
                    language,
                    f'text "{key}" ({language}) is {size} characters, over the limit of {LIMIT}',
                )
        error = layout.system_text(flow, texts, "invalid_choice", language)
        size = len(layout.resume_text(flow, texts, language, error))
        if size > LIMIT:
            add(
                "resume_prompt",
                language,
                f"the resume screen ({language}) can reach {size} "
                f"characters with the error line, over the limit of {LIMIT}",
            )
    return problems


def _longest_answer(flow: Flow, texts: SystemTexts, step: Step, language: str) -> int:
    if step.type == "area":
        return AREA_LABEL
    if step.type == "text":
        return step.max_length
    if step.type == "number":
        bounds = [b for b in (step.min, step.max) if b is not None]
        return max((len(str(b)) for b in bounds), default=12)
    labels = [choice.label for choice in layout.menu(flow, texts, step, language)]
    return max((len(label) for label in labels), default=1)


def _values(producers: Iterable[Step]) -> set[str] | None:
    """The values a route may test for an answer, or None when any value is possible."""
    allowed: set[str] = set()
    for step in producers:
        if step.type == "choice":
            allowed |= {option.value for option in step.options}
        elif step.type == "yesno":
            allowed |= {"yes", "no"}
        else:
            return None
    return allowed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
