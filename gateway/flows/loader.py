"""Read flow files (TOML) into `Flow` objects, reporting problems with their line numbers.

File reading happens here and nowhere else in the engine. Structural problems (a typo in a key,
a wrong type, an unknown step type, a bad number range) are found while building the flow;
`check.py` adds the problems that need the whole flow (links, texts, screen sizes).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.flows.model import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_LENGTH,
    STEP_TYPES,
    Condition,
    Flow,
    Option,
    Range,
    Route,
    Step,
    Texts,
)
from gateway.flows.pagination import MAX_OPTIONS
from gateway.flows.source import SourceMap

FLOW_KEYS = ("name", "title", "languages", "default_language", "max_attempts", "kind", "entry")
FLOW_KINDS = ("survey", "report")
AREA_LEVELS = ("region", "district", "ward")
# a reports step's texts: the list's header, no reports yet, the question under a resolved
# report's detail, and the label of the option that reopens it
REPORTS_PROMPTS = ("list", "empty", "reopen", "reopen_option")
CHANNELS = ("ussd", "sms")
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "choice": ("result", "prompt", "options", "next", "routes"),
    "text": ("result", "prompt", "max_length", "optional", "next", "routes"),
    "number": ("result", "prompt", "min", "max", "next", "routes"),
    "yesno": ("result", "prompt", "next", "routes"),
    "language": ("prompt", "next", "routes"),
    "area": ("result", "prompts", "levels", "next", "routes"),
    "reports": ("result", "prompts", "next", "routes"),
    "end": ("text",),
}
ANY_STEP_KEY = frozenset(key for keys in STEP_KEYS.values() for key in keys) | {"type"}
_RESULT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowError(Exception):
    """A flow or system texts file that cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def read_toml(path: str | Path) -> tuple[dict[str, Any], SourceMap]:
    """Parse a TOML file; a syntax error becomes one Problem at tomllib's line."""
    file = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as error:
        raise FlowError([Problem(file, 1, f"cannot read file: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise FlowError([Problem(file, 1, "file is not UTF-8 text")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        at = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(at.group(1)) if at else max(1, len(text.splitlines()))
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise FlowError([Problem(file, line, f"invalid TOML: {reason}")]) from None
    return data, SourceMap(text)


def load_flow(path: str | Path) -> Flow:
    """Build one flow; raises FlowError listing every structural problem."""
    data, source = read_toml(path)
    flow, problems = parse_flow(data, file=str(path), source=source, stem=Path(path).stem)
    if problems:
        raise FlowError(problems)
    return flow


def flow_paths(directory: str | Path) -> list[Path]:
    """The flow files of a directory: `*.toml` not starting with `_`, sorted by name."""
    return sorted(p for p in Path(directory).glob("*.toml") if not p.name.startswith("_"))


def load_flows(directory: str | Path) -> dict[str, Flow]:
    """Every flow in a directory by name; raises FlowError listing the problems of all files."""
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for path in flow_paths(directory):
        try:
            flow = load_flow(path)
        except FlowError as error:
            problems.extend(error.problems)
        else:
            flows[flow.name] = flow
    if problems:
        raise FlowError(problems)
    return flows


def parse_flow(
    data: dict[str, Any], *, file: str, source: SourceMap, stem: str
) -> tuple[Flow, list[Problem]]:
    """Build a flow from parsed TOML, keeping going past problems so all are reported at once."""
    parser = _Parser(file, source)
    flow = parser.flow(data, stem)
    return flow, parser.problems


class _Parser:
    def __init__(self, file: str, source: SourceMap):
        self.file = file
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, path: tuple[str, ...], key: str | None, message: str) -> None:
        self.at(self.source.line(path, key), message)

    def at(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def flow(self, data: dict[str, Any], stem: str) -> Flow:
        for key in data:
            if key not in ("flow", "steps"):
                self.problem((key,), None, f'unknown table "{key}" (expected [flow] and [steps.*])')
        head = data.get("flow")
        if not isinstance(head, dict):
            self.at(1, "missing [flow] table")
            head = {}
        self.unknown_keys(head, FLOW_KEYS, ("flow",), "[flow]")
        name = head.get("name")
        if not isinstance(name, str) or not name:
            self.problem(("flow",), "name", "[flow] needs a name (the file name without .toml)")
            name = stem
        elif name != stem:
            self.problem(("flow",), "name", f'flow name "{name}" must equal the file name "{stem}"')
        languages = self.languages(head)
        default = head.get("default_language", languages[0] if languages else "en")
        if languages and (not isinstance(default, str) or default not in languages):
            self.problem(
                ("flow",),
                "default_language",
                f"default_language {_show(default)} is not one of the flow's languages",
            )
            default = languages[0] if languages else "en"
        title = self.texts(head, "title", ("flow",), "[flow] title", required=False)
        attempts = head.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
        if not _is_int(attempts) or attempts < 1:
            self.problem(("flow",), "max_attempts", "max_attempts must be a whole number >= 1")
            attempts = DEFAULT_MAX_ATTEMPTS
        kind = head.get("kind", "survey")
        if kind not in FLOW_KINDS:
            self.problem(("flow",), "kind", f"[flow] kind must be one of {', '.join(FLOW_KINDS)}")
            kind = "survey"
        steps = self.steps(data.get("steps"))
        entry = self.entry(head, steps)
        return Flow(name, title, languages or (default,), default, steps, attempts, kind, entry)

    def entry(self, head: dict[str, Any], steps: dict[str, Step]) -> dict[str, str]:
        """`entry = { sms = "category" }`: where a channel enters (default: the first step)."""
        value = head.get("entry", {})
        if isinstance(value, dict) and all(
            channel in CHANNELS and isinstance(step, str) for channel, step in value.items()
        ):
            for channel, step in value.items():
                if step not in steps:
                    self.problem(("flow",), "entry",
                                 f'[flow] entry for {channel} is unknown step "{step}"')
            return {channel: step for channel, step in value.items() if step in steps}
        self.problem(("flow",), "entry",
                     f"[flow] entry must map channels ({', '.join(CHANNELS)}) to step names")
        return {}

    def languages(self, head: dict[str, Any]) -> tuple[str, ...]:
        value = head.get("languages")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            self.problem(
                ("flow",),
                "languages",
                '[flow] languages must be a list of language codes, e.g. ["en", "sw"]',
            )
            return ()
        if len(set(value)) != len(value):
            self.problem(("flow",), "languages", "[flow] languages are listed twice")
        return tuple(dict.fromkeys(value))

    def steps(self, table: Any) -> dict[str, Step]:
        if not isinstance(table, dict) or not table:
            self.at(self.source.line(("steps",)), "the flow has no steps")
            return {}
        steps = {}
        for step_id, body in table.items():
            if not isinstance(body, dict):
                self.problem(("steps",), step_id, f'step "{step_id}" must be a table')
                continue
            steps[step_id] = self.step(step_id, body)
        return steps

    def step(self, step_id: str, body: dict[str, Any]) -> Step:
        path = ("steps", step_id)
        kind = body.get("type")
        where = f'step "{step_id}"'
        if not isinstance(kind, str):
            self.problem(path, None, f"{where} has no type (one of {', '.join(STEP_TYPES)})")
            kind = ""
        elif kind not in STEP_TYPES:
            self.problem(
                path, "type", f'{where}: unknown type "{kind}" (one of {", ".join(STEP_TYPES)})'
            )
        allowed = STEP_KEYS.get(kind, tuple(ANY_STEP_KEY))
        for key in body:
            if key == "type" or key in allowed:
                continue
            if key in ANY_STEP_KEY:
                self.problem(path, key, f'{where}: "{key}" does not apply to a {kind} step')
            else:
                self.problem(path, key, f'{where}: unknown key "{key}"')
        fields: dict[str, Any] = {
            "prompt": self.texts(
                body,
                "prompt",
                path,
                f"{where} prompt",
                required=kind in ("choice", "text", "number", "yesno"),
            ),
            "text": self.texts(body, "text", path, f"{where} text", required=kind == "end"),
            "result": self.result(body, path, where),
            "next": self.name(body, "next", path, where),
            "routes": self.routes(body.get("routes", []), path, where),
        }
        if kind == "choice":
            fields["options"] = self.options(body.get("options"), path, where)
        if kind == "area":
            fields["levels"] = self.levels(body, path, where)
            fields["prompts"] = self.prompts(body, (*fields["levels"], "match"), path, where)
        if kind == "reports":
            fields["prompts"] = self.prompts(body, REPORTS_PROMPTS, path, where)
        if kind == "text":
            fields["max_length"], fields["channel_max_length"] = self.max_length(body, path, where)
            fields["optional"] = self.optional(body, path, where)
        if kind == "number":
            fields["min"], fields["max"] = self.number_range(body, path, where)
        return Step(step_id, kind, **fields)

    def texts(
        self, body: dict[str, Any], key: str, path: tuple[str, ...], where: str, required: bool
    ) -> Texts:
        value = body.get(key)
        if value is None:
            if required:
                self.problem(path, None, f"{where} is missing")
            return {}
        if _is_texts(value):
            return value
        self.problem(
            path, key, f'{where} must be a table of texts by language, e.g. {{ en = "..." }}'
        )
        return {}

    def result(self, body: dict[str, Any], path: tuple[str, ...], where: str) -> str | None:
        value = body.get("result")
        if value is None or (isinstance(value, str) and _RESULT_KEY.match(value)):
            return value
        self.problem(path, "result", f"{where}: result must be a name of letters, digits and _")
        return None

    def name(self, body: dict[str, Any], key: str, path: tuple[str, ...], where: str) -> str | None:
        value = body.get(key)
        if value is None or isinstance(value, str):
            return value
        self.problem(path, key, f"{where}: {key} must be a step name")
        return None

    def options(self, value: Any, path: tuple[str, ...], where: str) -> tuple[Option, ...]:
        if not isinstance(value, list) or not value:
            self.problem(path, "options", f"{where} has no options")
            return ()
        if len(value) > MAX_OPTIONS:
            message = f"{where} has {len(value)} options; a menu holds at most {MAX_OPTIONS}"
            self.problem(path, "options", message)
        options: list[Option] = []
        for number, item in enumerate(value, start=1):
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                self.problem(path, "options", f'{where}: option {number} needs a value = "..."')
                continue
            at = f'{where}: option "{item["value"]}"'
            line = self.source.option_line(path[1], item["value"])
            for key in item:
                if key not in ("value", "label"):
                    self.at(line, f'{at}: unknown key "{key}"')
            if any(option.value == item["value"] for option in options):
                self.at(line, f"{at} is listed twice")
            label = item.get("label")
            if not _is_texts(label):
                self.at(line, f'{at} needs a label = {{ en = "..." }}')
                label = {}
            options.append(Option(item["value"], label))
        return tuple(options)

    def routes(self, value: Any, path: tuple[str, ...], where: str) -> tuple[Route, ...]:
        if not isinstance(value, list):
            self.problem(path, "routes", f"{where}: routes must be a list of {{ when, goto }}")
            return ()
        routes = []
        for index, item in enumerate(value):
            line = self.source.route_line(path[1], index, "when")
            if not isinstance(item, dict):
                self.at(line, f"{where}: a route must be a table")
                continue
            for key in item:
                if key not in ("when", "goto"):
                    key_line = self.source.route_line(path[1], index, key)
                    self.at(key_line, f'{where}: route: unknown key "{key}"')
            goto, when = item.get("goto"), item.get("when")
            if not isinstance(goto, str):
                self.at(line, f"{where}: a route needs goto")
            elif not isinstance(when, dict) or not when:
                self.at(line, f"{where}: a route needs when = {{ key = value }}")
            else:
                conditions = {key: self.condition(cond, line, where) for key, cond in when.items()}
                routes.append(Route(conditions, goto))
        return tuple(routes)

    def condition(self, cond: Any, line: int, where: str) -> Condition:
        if isinstance(cond, list) and cond and all(_is_scalar(one) for one in cond):
            return tuple(cond)
        if _is_scalar(cond):
            return cond
        bounds = cond if isinstance(cond, dict) else {}
        if bounds and set(bounds) <= {"min", "max"} and all(map(_is_int, bounds.values())):
            return Range(bounds.get("min"), bounds.get("max"))
        self.at(
            line,
            f"{where}: a route condition must be a value, a list of values or "
            "{ min = n, max = m }",
        )
        return ()

    def max_length(
        self, body: dict[str, Any], path: tuple[str, ...], where: str
    ) -> tuple[int, dict[str, int]]:
        """An int, or one per channel: `{ ussd = 60, sms = 500 }` (USSD's is the default)."""
        value = body.get("max_length", DEFAULT_MAX_LENGTH)
        if _is_int(value) and value >= 1:
            return value, {}
        if (
            isinstance(value, dict)
            and value
            and all(key in CHANNELS and _is_int(n) and n >= 1 for key, n in value.items())
        ):
            return value.get("ussd", min(value.values())), dict(value)
        self.problem(
            path,
            "max_length",
            f"{where}: max_length must be a whole number >= 1 or one per channel, "
            "e.g. { ussd = 60, sms = 500 }",
        )
        return DEFAULT_MAX_LENGTH, {}

    def levels(self, body: dict[str, Any], path: tuple[str, ...], where: str) -> tuple[str, ...]:
        value = body.get("levels", list(AREA_LEVELS))
        if isinstance(value, list) and value and all(level in AREA_LEVELS for level in value):
            if tuple(value) == AREA_LEVELS[: len(value)]:
                return tuple(value)
        self.problem(path, "levels", f'{where}: levels must be {list(AREA_LEVELS)} (from the top)')
        return AREA_LEVELS

    def prompts(
        self, body: dict[str, Any], wanted: tuple[str, ...], path: tuple[str, ...], where: str
    ) -> dict[str, Texts]:
        """An area step: one prompt per level, plus `match` ("Did you mean:") for typed names
        over SMS. A reports step: REPORTS_PROMPTS."""
        value = body.get("prompts")
        if isinstance(value, dict) and all(
            key in value and _is_texts(value[key]) for key in wanted
        ):
            return {key: value[key] for key in wanted}
        self.problem(
            path,
            "prompts" if "prompts" in body else None,
            f"{where} needs prompts for {', '.join(wanted)}, each a table of texts by language",
        )
        return {}

    def optional(self, body: dict[str, Any], path: tuple[str, ...], where: str) -> bool:
        value = body.get("optional", False)
        if isinstance(value, bool):
            return value
        self.problem(path, "optional", f"{where}: optional must be true or false")
        return False

    def number_range(
        self, body: dict[str, Any], path: tuple[str, ...], where: str
    ) -> tuple[int | None, int | None]:
        low, high = body.get("min"), body.get("max")
        for key, value in (("min", low), ("max", high)):
            if value is None:
                self.problem(path, None, f"{where}: a number step needs {key}")
            elif not _is_int(value):
                self.problem(path, key, f"{where}: {key} must be a whole number")
        if not (_is_int(low) and _is_int(high)):
            return None, None
        if low > high:
            self.problem(path, "min", f"{where}: min ({low}) is greater than max ({high})")
        return low, high

    def unknown_keys(
        self, table: dict[str, Any], allowed: tuple[str, ...], path: tuple[str, ...], where: str
    ) -> None:
        for key in table:
            if key not in allowed:
                self.problem(path, key, f'{where}: unknown key "{key}"')


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_texts(value: Any) -> bool:
    return (
        isinstance(value, dict) and bool(value) and all(isinstance(v, str) for v in value.values())
    )


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str) or _is_int(value)


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
